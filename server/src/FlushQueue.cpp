#include "switchboard/server/FlushQueue.h"

#include <boost/asio/post.hpp>

#include "switchboard/server/Connection.h"

namespace switchboard::server {

namespace {
thread_local FlushQueue* current_queue = nullptr;
}  // namespace

FlushQueue::FlushQueue(boost::asio::io_context& ioc, const std::atomic<std::uint64_t>& deliveries)
    : ioc_(ioc), deliveries_(deliveries) {}

FlushQueue* FlushQueue::current() { return current_queue; }

FlushQueue::ThreadBinding::ThreadBinding(FlushQueue& queue) : previous_(current_queue) { current_queue = &queue; }

FlushQueue::ThreadBinding::~ThreadBinding() { current_queue = previous_; }

void FlushQueue::request(std::shared_ptr<Connection> conn) {
  pending_.push_back(std::move(conn));
  if (scheduled_) return;
  scheduled_ = true;
  turns_ = 0;
  seen_ = deliveries_.load(std::memory_order_relaxed);
  first_ = std::chrono::steady_clock::now();
  boost::asio::post(ioc_, [this] { run(); });
}

void FlushQueue::run() {
  auto seen = deliveries_.load(std::memory_order_relaxed);
  if (seen != seen_ && ++turns_ < kMaxTurns && std::chrono::steady_clock::now() - first_ < kMaxDelay) {
    seen_ = seen;
    boost::asio::post(ioc_, [this] { run(); });
    return;
  }
  scheduled_ = false;
  // Connections that ask again while these flush (a write completing at once) go to the next turn.
  running_.swap(pending_);
  for (auto& conn : running_) conn->flush();
  running_.clear();
  if (running_.capacity() > 4096) running_.shrink_to_fit();
}

}  // namespace switchboard::server
