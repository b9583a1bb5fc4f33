#include "switchboard/server/FlushQueue.h"

#include <boost/asio/post.hpp>
#include <algorithm>

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
  quiet_ = 0;
  seen_ = deliveries_.load(std::memory_order_relaxed);
  first_ = std::chrono::steady_clock::now();
  boost::asio::post(ioc_, [this] { run(); });
}

void FlushQueue::run() {
  auto seen = deliveries_.load(std::memory_order_relaxed);
  quiet_ = seen == seen_ ? quiet_ + 1 : 0;
  if (quiet_ < kQuietTurns && ++turns_ < kMaxTurns && std::chrono::steady_clock::now() - first_ < max_delay_) {
    seen_ = seen;
    boost::asio::post(ioc_, [this] { run(); });
    return;
  }
  scheduled_ = false;
  // Connections that ask again while these flush (a write completing at once) go to the next turn.
  running_.swap(pending_);
  const auto started = std::chrono::steady_clock::now();
  for (auto& conn : running_) conn->flush();
  running_.clear();
  // The next cork may last as long as these writes took: a node whose writes take long reads
  // as long, and writes more frames each time.
  max_delay_ = std::clamp(std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started),
                          kMinDelay, kMaxDelay);
  if (running_.capacity() > 4096) running_.shrink_to_fit();
}

}  // namespace switchboard::server
