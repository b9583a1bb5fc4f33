#pragma once
// Corking, for the connections of one I/O thread. A connection with frames to write asks its
// thread's queue for a flush instead of writing at once; the queue runs the flushes of all its
// connections together, once the deliveries under way have had their turn: it is posted, and
// posted again while the node's delivery count keeps moving (another publish read and fanned
// out). It flushes after kQuietTurns turns in a row without a delivery (two: what the event
// loop's poll finds in one turn runs in the next), or after kMaxTurns, or once the cork has lasted
// as long as the previous round of writes took, clamped to [kMinDelay, kMaxDelay]; in a stream of
// deliveries (see kLongRound) quiet turns do not end it, so that whoever feeds the thread on the
// same core (Redis, in a cluster) gets to. So a stream of
// messages leaves in gather writes of many frames — one sendmsg for many — and a node whose
// writes take long reads as long before writing again, so that each write carries more. A quiet
// node flushes within a few turns (microseconds); a busy one holds a frame back 4–20 ms at most.
//
// One queue per I/O thread, used only on that thread: no lock.
#include <atomic>
#include <chrono>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <vector>

namespace switchboard::server {

class Connection;

class FlushQueue {
 public:
  static constexpr unsigned kMaxTurns = 256;
  static constexpr unsigned kQuietTurns = 2;
  static constexpr std::chrono::microseconds kMinDelay{4000};
  static constexpr std::chrono::microseconds kMaxDelay{20000};
  // A round of writes at least this long, and a cork begun within kStreamGap of its end, mean a
  // stream of deliveries: quiet turns then do not end the cork (kMaxTurns and the delay still do).
  static constexpr std::chrono::microseconds kLongRound{1000};
  static constexpr std::chrono::microseconds kStreamGap{1000};

  FlushQueue(boost::asio::io_context& ioc, const std::atomic<std::uint64_t>& deliveries);
  FlushQueue(const FlushQueue&) = delete;
  FlushQueue& operator=(const FlushQueue&) = delete;

  // The queue of the I/O thread this runs on; nullptr elsewhere.
  static FlushQueue* current();

  // Makes this queue the calling thread's current() while it lives: an I/O thread holds one
  // around io_context::run().
  class ThreadBinding {
   public:
    explicit ThreadBinding(FlushQueue& queue);
    ~ThreadBinding();
    ThreadBinding(const ThreadBinding&) = delete;
    ThreadBinding& operator=(const ThreadBinding&) = delete;

   private:
    FlushQueue* previous_;
  };

  // On this queue's thread: calls conn->flush() on a coming turn. The connection asks once per
  // flush (it keeps a flag); pending connections are held until flushed.
  void request(std::shared_ptr<Connection> conn);

 private:
  void run();
  void flush_all();

  boost::asio::io_context& ioc_;
  const std::atomic<std::uint64_t>& deliveries_;
  std::vector<std::shared_ptr<Connection>> pending_;
  std::vector<std::shared_ptr<Connection>> running_;
  bool scheduled_ = false;
  unsigned turns_ = 0;
  unsigned quiet_ = 0;  // turns in a row in which the delivery count did not move
  bool streaming_ = false;  // this cork began right after a long round of writes
  std::chrono::microseconds last_round_{0};  // how long the last round of writes took
  std::chrono::steady_clock::time_point last_round_end_;
  std::uint64_t seen_ = 0;
  std::chrono::steady_clock::time_point first_;  // when the oldest pending request came
};

}  // namespace switchboard::server
