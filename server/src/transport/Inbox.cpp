#include "transport/Inbox.h"

#include <boost/asio/post.hpp>

namespace switchboard::server {

boost::asio::execution_context::id Inbox::id;

Inbox::Inbox(boost::asio::io_context& ioc) : boost::asio::execution_context::service(ioc), ioc_(ioc) {}

void Inbox::deliver(std::shared_ptr<Receiver> receiver, protocol::Payload frame, Clock::time_point at) {
  append({std::move(receiver), std::move(frame), at, {}});
}

void Inbox::post(std::shared_ptr<Receiver> receiver, std::function<void()> task) {
  append({std::move(receiver), nullptr, {}, std::move(task)});
}

void Inbox::append(Entry entry) {
  bool first;
  {
    std::lock_guard lock(mutex_);
    first = entries_.empty();
    entries_.push_back(std::move(entry));
  }
  // One drain per batch: entries appended meanwhile wait for the drain already posted.
  if (first) boost::asio::post(ioc_, [this] { drain(); });
}

void Inbox::drain() {
  {
    std::lock_guard lock(mutex_);
    draining_.swap(entries_);
  }
  // What is handed over while this batch runs goes into entries_ and posts the next drain.
  for (auto& entry : draining_) {
    if (entry.frame) entry.receiver->receive(std::move(entry.frame), entry.at);
    else entry.receiver->run(entry.task);
  }
  draining_.clear();
}

void Inbox::shutdown() {
  std::deque<Entry> dropped;
  {
    std::lock_guard lock(mutex_);
    dropped.swap(entries_);
  }
  draining_.clear();
}

}  // namespace switchboard::server
