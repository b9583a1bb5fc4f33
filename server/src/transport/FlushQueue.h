#pragma once
// Corking, for the connections of one I/O thread. A connection with frames to write asks its
// thread's queue for a flush instead of writing at once; the queue runs the flushes of all its
// connections together, once the deliveries under way have had their turn: it is posted, and
// posted again while its thread's connections keep queuing frames (another publish read and
// fanned out). It flushes after kQuietTurns turns in a row without a frame (two: what the event
// loop's poll finds in one turn runs in the next), or after kMaxTurns, or once the cork has lasted
// as long as the previous round of writes took (the thread's CPU time: a round preempted by
// another process does not count as long), clamped to [kMinDelay, kMaxDelay]. So a stream of
// messages leaves in gather writes of many frames — one sendmsg for many — and a node whose
// writes take long reads as long before writing again, so that each write carries more.
//
// In a stream (the last round of writes took kLongRound of CPU or more, carried kStreamFrames
// frames per connection or more, and this cork began within twice its length after it), a cork
// that has gathered less than half the last round's frames is not flushed when quiet: it is the
// first part of a round whose rest is on its way (Redis sends a burst in pieces; in a cluster,
// the nodes and Redis may share a core), and it waits for it until the deadline on a timer,
// asleep, so that the sender can run. Without this a cluster node wrote each straggling piece as
// a round of its own: a write per subscriber for a frame or two.
//
// A quiet node flushes within a few turns (microseconds); a busy one holds a frame back 4–20 ms
// at most.
//
// The other threads' inboxes this thread handed entries to are woken as the cork flushes, before
// the thread's own connections write (owe_wakeup, Inbox.h): each of those threads then takes a
// round's messages in one drain, and writes them in as few writes as this one.
//
// It reads the time through FlushQueue::Clock: the steady clock and the thread's CPU time, unless
// a test sets its own (then the cork's every decision, its timer's included, follows the test's
// time, turn by turn).
//
// One queue per I/O thread, used only on that thread: no lock.
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace switchboard::server {

class Connection;
class Inbox;

class FlushQueue {
 public:
  static constexpr unsigned kMaxTurns = 256;
  static constexpr unsigned kQuietTurns = 2;
  static constexpr std::chrono::microseconds kMinDelay{4000};
  static constexpr std::chrono::microseconds kMaxDelay{20000};
  // A round of writes at least this long (CPU) with at least kStreamFrames frames per
  // connection, and a cork begun within twice its length after its end, mean a stream (see above).
  static constexpr std::chrono::microseconds kLongRound{1000};
  static constexpr std::size_t kStreamFrames = 8;

  // The queues' time: std::chrono::steady_clock's, and CLOCK_THREAD_CPUTIME_ID for the length of
  // a round of writes, read through a function pointer each. A test sets its own with
  // Clock::set() before it makes a queue, and Clock::reset() restores the real ones.
  struct Clock {
    using duration = std::chrono::steady_clock::duration;
    using rep = duration::rep;
    using period = duration::period;
    using time_point = std::chrono::time_point<Clock>;
    static constexpr bool is_steady = true;
    using NowFunction = time_point (*)();
    using CpuTimeFunction = std::chrono::microseconds (*)();

    static time_point now();
    // The calling thread's CPU time: a round's length without the time the thread was not running.
    static std::chrono::microseconds thread_cpu_time();
    static void set(NowFunction now, CpuTimeFunction thread_cpu_time);
    static void reset();
  };

  explicit FlushQueue(boost::asio::io_context& ioc);
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

  // On this queue's thread: a connection queued a frame (the cork watches the count move).
  void note_frame() { ++frames_; }
  // On this queue's thread: calls conn->flush() on a coming turn. The connection asks once per
  // flush (it keeps a flag); pending connections are held until flushed.
  void request(std::shared_ptr<Connection> conn);
  // On this queue's thread: `inbox` (another thread's) was handed entries; it is woken when this
  // cork flushes.
  void owe_wakeup(Inbox& inbox);

 private:
  // Starts a cork, unless one is on its way.
  void schedule();
  void run();
  void flush_all();

  boost::asio::io_context& ioc_;
  std::vector<std::shared_ptr<Connection>> pending_;
  std::vector<std::shared_ptr<Connection>> running_;
  std::vector<Inbox*> owed_;  // inboxes to wake at the flush (one per other I/O thread at most)
  bool scheduled_ = false;
  unsigned turns_ = 0;
  unsigned quiet_ = 0;  // turns in a row in which no frame was queued
  boost::asio::basic_waitable_timer<Clock> timer_;  // a waiting cork's deadline
  bool streaming_ = false;  // this cork began soon after a long round of writes
  std::chrono::microseconds last_round_{0};  // the thread's CPU time for the last round of writes
  Clock::time_point last_round_end_;
  std::uint64_t frames_ = 0;  // frames queued by this thread's connections
  std::uint64_t seen_ = 0;
  std::uint64_t cork_start_ = 0;  // frames_ when this cork began
  std::uint64_t last_round_frames_ = 0;  // frames the last round's cork gathered
  std::size_t last_round_writers_ = 0;  // connections it flushed
  Clock::time_point first_;  // when the oldest pending request came
};

}  // namespace switchboard::server
