#include "transport/WriteDeadline.h"

#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>

namespace switchboard::server {

namespace net = boost::asio;

void WriteDeadline::started(const net::any_io_executor& executor, Clock::duration timeout,
                            const std::shared_ptr<void>& owner, const std::function<void()>& expired) {
  if (cancelled_) return;
  started_ = Clock::now();
  under_way_ = true;
  if (watched_) return;
  watched_ = true;
  // Every connection's executor belongs to the io_context of its thread.
  auto& ioc = static_cast<net::io_context&>(net::query(executor, net::execution::context));
  net::use_service<Watch>(ioc).watch(*this, owner, expired, timeout);
}

net::execution_context::id WriteDeadline::Watch::id;

WriteDeadline::Watch::Watch(net::io_context& ioc) : EventLoopWatch(ioc) {}

void WriteDeadline::Watch::watch(WriteDeadline& deadline, const std::shared_ptr<void>& owner,
                                 const std::function<void()>& expired, Clock::duration timeout) {
  entries_.push_back({&deadline, owner, expired});
  timeout_ = timeout;  // one node-wide setting
  arm(timeout_ / 4);
}

void WriteDeadline::Watch::check() {
  const auto now = Clock::now();
  std::vector<std::pair<std::shared_ptr<void>, std::function<void()>>> expired;
  std::vector<Entry> watching;
  watching.swap(entries_);
  for (auto& entry : watching) {
    auto owner = entry.owner.lock();
    if (!owner) continue;  // the connection is gone, and its deadline with it
    WriteDeadline& deadline = *entry.deadline;
    if (deadline.cancelled_ || !deadline.under_way_) {
      deadline.watched_ = false;
    } else if (now - deadline.started_ >= timeout_) {
      deadline.watched_ = false;
      expired.emplace_back(std::move(owner), std::move(entry.expired));
    } else {
      entries_.push_back(std::move(entry));
    }
  }
  if (!entries_.empty()) arm(timeout_ / 4);
  // Last, with the list consistent: a connection cut here could even start watching again.
  for (auto& [owner, cut] : expired) cut();
}

void WriteDeadline::Watch::shutdown() {
  entries_.clear();
  stop();
}

}  // namespace switchboard::server
