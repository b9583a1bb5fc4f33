#pragma once
// The write deadline of a connection (--write-timeout): a write to the client that is still under
// way after the timeout means the client takes nothing (or too little), and the connection is
// given up (4008), whatever else it still sends. Used on the connection's thread only.
//
// A connection holds no timer: it notes when its write started, and one watch per event loop
// (an Asio service of the connection's io_context) checks the connections that are writing, every
// quarter of the timeout, while there are any. A connection is on the watch's list from a write's
// start until a check finds it no longer writing, so an idle connection costs a few bytes and no
// timer, and a connection is cut between one timeout and one and a quarter after its write
// began.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "transport/EventLoopWatch.h"

namespace switchboard::server {

class WriteDeadline {
 public:
  using Clock = std::chrono::steady_clock;

  // A write starts. `expired` is called, on the connection's thread, when it has been under way
  // for `timeout`; the watch does not keep `owner` (the connection, which owns this object) alive.
  void started(const boost::asio::any_io_executor& executor, Clock::duration timeout,
               const std::shared_ptr<void>& owner, const std::function<void()>& expired);
  void finished() { under_way_ = false; }
  void cancel() { cancelled_ = true; }

  // The watch of one event loop.
  class Watch : public EventLoopWatch {
   public:
    static boost::asio::execution_context::id id;
    explicit Watch(boost::asio::io_context& ioc);
    void watch(WriteDeadline& deadline, const std::shared_ptr<void>& owner, const std::function<void()>& expired,
               Clock::duration timeout);

   private:
    struct Entry {
      WriteDeadline* deadline;  // valid while `owner` lives
      std::weak_ptr<void> owner;
      std::function<void()> expired;
    };
    void check() override;
    // The event loop ends: the entries go (their callbacks hold connections' `this`).
    void shutdown() override;

    std::vector<Entry> entries_;
    Clock::duration timeout_{};
  };

 private:
  Clock::time_point started_;  // of the write under way
  bool under_way_ = false;
  bool watched_ = false;  // on its event loop's watch list
  bool cancelled_ = false;
};

}  // namespace switchboard::server
