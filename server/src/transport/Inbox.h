#pragma once
// What is handed to the WebSocket connections of one I/O thread — from other threads (a publish
// read on another thread fanning out, the dispatcher's closes) and from the connections' own
// handlers — waits here, in the order it was handed over, and runs in one handler for the whole
// batch. A fan-out from another thread then costs the target thread one wakeup for all its
// subscribers, rather than a post, an allocation and a lock per subscriber and message; and the
// frames of the batch reach the thread's FlushQueue in one turn, so that they leave in one cork.
//
// An I/O thread (one with a FlushQueue) that hands entries to *another* thread's inbox appends
// them at once — their place in that inbox's order is taken then — but wakes that thread only
// when its own cork flushes (FlushQueue::owe_wakeup): a fan-out read on one thread reaches the
// others in one drain per round of its writes, as its own subscribers get their frames, and each
// thread then writes as many frames per write as it does. (Woken message by message, each thread
// corked only what reached it between its own flushes: fewer frames per write, more writes.) Any
// other wakeup of the inbox — a hand-off from its own thread, or from a thread without a
// FlushQueue — takes what waits too.
//
// One inbox per io_context (an Asio service: use_service<Inbox>(ioc)), whose run() is on one
// thread, as each of the node's I/O threads runs its own; a mutex guards the queue, held only
// to append or to take the whole batch.
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "switchboard/protocol/Payload.h"

namespace switchboard::server {

class Inbox : public boost::asio::execution_context::service {
 public:
  using Clock = std::chrono::steady_clock;
  static boost::asio::execution_context::id id;

  // What takes deliveries and tasks on its own thread.
  class Receiver {
   public:
    virtual void receive(protocol::Payload frame, Clock::time_point at) = 0;
    virtual void run(std::function<void()>& task) = 0;

   protected:
    ~Receiver() = default;
  };

  explicit Inbox(boost::asio::io_context& ioc);

  // Thread-safe. `receiver` gets `frame` on the inbox's thread, after everything handed over before
  // (while a Batch lives on the calling thread, "handed over" is when the Batch ends).
  void deliver(std::shared_ptr<Receiver> receiver, protocol::Payload frame, Clock::time_point at);
  // Thread-safe. Has `receiver` run `task` on the inbox's thread, after everything handed over
  // before (the receiver holds nothing extra: the entry keeps it alive).
  void post(std::shared_ptr<Receiver> receiver, std::function<void()> task);
  // Thread-safe. Has the inbox's thread take what waits, unless a drain is on its way already.
  void wake();

 private:
  struct Entry {
    std::shared_ptr<Receiver> receiver;
    protocol::Payload frame;  // a delivery (never null), or
    Clock::time_point at;
    // A task (when frame is null): apart, so that the many deliveries' entries stay small.
    std::unique_ptr<std::function<void()>> task;
  };

 public:
  // A fan-out's hand-offs, gathered: while a Batch lives on a thread, what the thread hands to
  // any inbox waits in it, and when it ends each inbox takes its share in one append — one lock
  // and at most one wakeup of the inbox's thread for a whole room of subscribers, rather than one
  // lock per subscriber, each of which could find that thread holding its io_context's lock (a
  // futex wait and two context switches when the threads share a core). Whatever one thread
  // hands to one inbox keeps its order. A Batch made while another lives on the thread does
  // nothing: the outer one hands everything over. The hand-over runs in the destructor: memory
  // exhausted there ends the process (an entry dropped would leave its connection's count of
  // hand-offs waiting forever).
  class Batch {
   public:
    Batch();
    ~Batch();
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;

   private:
    friend class Inbox;
    struct Share {
      Inbox* inbox;
      std::vector<Entry> entries;
    };
    static std::vector<Entry> spare_entries();
    static std::vector<std::vector<Entry>>& spares_of_thread();
    std::vector<Share> shares_;  // one per inbox reached: one per I/O thread at most
    bool active_ = false;
  };

 private:
  // Queues `entry` now, or into the thread's Batch while one lives.
  void append(Entry entry);
  // Moves `count` entries into the queue under one lock; posts a drain unless one is on its way,
  // or, from another I/O thread, leaves that to its cork.
  void hand_over(Entry* entries, std::size_t count);
  void drain();
  // The io_context shuts down: what waits is dropped (it holds connections).
  void shutdown() override;

  boost::asio::io_context& ioc_;
  std::mutex mutex_;
  // Vectors, swapped at each drain: a stream of batches reuses their memory rather than
  // allocating its entries (up to kKeptEntries of capacity is kept).
  static constexpr std::size_t kKeptEntries = 1 << 16;
  std::vector<Entry> entries_;    // handed over, not yet taken
  std::vector<Entry> draining_;   // the batch being run
  bool drain_posted_ = false;    // a drain is on its way (guarded by mutex_)
};

}  // namespace switchboard::server
