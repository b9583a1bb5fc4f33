#include "transport/FlushQueue.h"

#include <boost/asio/post.hpp>
#include <algorithm>
#include <ctime>

#include "dispatch/Connection.h"
#include "transport/Inbox.h"

namespace switchboard::server {

namespace {
thread_local FlushQueue* current_queue = nullptr;

FlushQueue::Clock::time_point steady_now() {
  return FlushQueue::Clock::time_point(std::chrono::steady_clock::now().time_since_epoch());
}

std::chrono::microseconds thread_cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::nanoseconds(ts.tv_nsec));
}

// Set before any queue runs (at start, or by a test on its own thread), then only read.
FlushQueue::Clock::NowFunction clock_now = &steady_now;
FlushQueue::Clock::CpuTimeFunction clock_cpu_time = &thread_cpu_now;
}  // namespace

FlushQueue::Clock::time_point FlushQueue::Clock::now() { return clock_now(); }

std::chrono::microseconds FlushQueue::Clock::thread_cpu_time() { return clock_cpu_time(); }

void FlushQueue::Clock::set(NowFunction now, CpuTimeFunction thread_cpu_time) {
  clock_now = now;
  clock_cpu_time = thread_cpu_time;
}

void FlushQueue::Clock::reset() { set(&steady_now, &thread_cpu_now); }

FlushQueue::FlushQueue(boost::asio::io_context& ioc) : ioc_(ioc), timer_(ioc) {}

FlushQueue* FlushQueue::current() { return current_queue; }

FlushQueue::ThreadBinding::ThreadBinding(FlushQueue& queue) : previous_(current_queue) { current_queue = &queue; }

FlushQueue::ThreadBinding::~ThreadBinding() { current_queue = previous_; }

void FlushQueue::request(std::shared_ptr<Connection> conn) {
  pending_.push_back(std::move(conn));
  schedule();
}

void FlushQueue::owe_wakeup(Inbox& inbox) {
  if (std::find(owed_.begin(), owed_.end(), &inbox) == owed_.end()) owed_.push_back(&inbox);
  schedule();
}

void FlushQueue::schedule() {
  if (scheduled_) return;
  scheduled_ = true;
  turns_ = 0;
  quiet_ = 0;
  seen_ = cork_start_ = frames_;
  first_ = Clock::now();
  streaming_ = last_round_ >= kLongRound && last_round_frames_ >= kStreamFrames * last_round_writers_ &&
               first_ - last_round_end_ < 2 * last_round_;
  boost::asio::post(ioc_, [this] { run(); });
}

void FlushQueue::run() {
  auto seen = frames_;
  quiet_ = seen == seen_ ? quiet_ + 1 : 0;
  seen_ = seen;
  // The cork may last as long as the last round of writes took: a node whose writes take long
  // reads as long, and writes more frames each time.
  const auto deadline = first_ + std::clamp(last_round_, kMinDelay, kMaxDelay);
  if (quiet_ >= kQuietTurns) {
    // In a stream, a cork with less than half the frames the last round wrote is the first part of
    // a round whose rest is still on its way (from Redis, or a publisher on the same core): it
    // waits for it until the deadline, asleep so that whoever sends it can run.
    if (streaming_ && 2 * (seen - cork_start_) < last_round_frames_) {
      timer_.expires_at(deadline);
      return timer_.async_wait([this](boost::system::error_code) { flush_all(); });
    }
    return flush_all();
  }
  if (++turns_ < kMaxTurns && Clock::now() < deadline)
    return boost::asio::post(ioc_, [this] { run(); });
  flush_all();
}

void FlushQueue::flush_all() {
  scheduled_ = false;
  // Connections that ask again while these flush (a write completing at once) go to the next turn.
  running_.swap(pending_);
  // The other threads first: they start on their share of the round while this one writes its own.
  for (Inbox* inbox : owed_) inbox->wake();
  owed_.clear();
  if (running_.empty()) return;  // only wakeups: no round of writes to learn from
  last_round_frames_ = frames_ - cork_start_;
  last_round_writers_ = running_.size();
  const auto started = Clock::thread_cpu_time();
  for (auto& conn : running_) conn->flush();
  running_.clear();
  last_round_ = Clock::thread_cpu_time() - started;
  last_round_end_ = Clock::now();
  if (running_.capacity() > 4096) running_.shrink_to_fit();
}

}  // namespace switchboard::server
