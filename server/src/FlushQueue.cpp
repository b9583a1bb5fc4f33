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
  streaming_ = last_round_ >= kLongRound && first_ - last_round_end_ < kStreamGap;
  boost::asio::post(ioc_, [this] { run(); });
}

void FlushQueue::run() {
  auto seen = deliveries_.load(std::memory_order_relaxed);
  quiet_ = seen == seen_ ? quiet_ + 1 : 0;
  seen_ = seen;
  // The cork may last as long as the last round of writes took: a node whose writes take long
  // reads as long, and writes more frames each time. In a stream, quiet turns do not end it:
  // whoever feeds this thread (a publisher, Redis on the same core) gets a few more turns to do so.
  if ((quiet_ < kQuietTurns || streaming_) && ++turns_ < kMaxTurns &&
      std::chrono::steady_clock::now() - first_ < std::clamp(last_round_, kMinDelay, kMaxDelay))
    return boost::asio::post(ioc_, [this] { run(); });
  flush_all();
}

void FlushQueue::flush_all() {
  scheduled_ = false;
  // Connections that ask again while these flush (a write completing at once) go to the next turn.
  running_.swap(pending_);
  const auto started = std::chrono::steady_clock::now();
  for (auto& conn : running_) conn->flush();
  running_.clear();
  last_round_end_ = std::chrono::steady_clock::now();
  last_round_ = std::chrono::duration_cast<std::chrono::microseconds>(last_round_end_ - started);
  if (running_.capacity() > 4096) running_.shrink_to_fit();
}

}  // namespace switchboard::server
