#pragma once
// What the watches of an event loop share (WriteDeadline::Watch, IdleWatch): an Asio service of
// one io_context, with one timer that calls check() a period after it is armed. A watch arms it
// while it has connections to look at, so that an idle loop has no timer pending. Used on the
// loop's thread only.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>

namespace switchboard::server {

class EventLoopWatch : public boost::asio::execution_context::service {
 public:
  using Clock = std::chrono::steady_clock;

 protected:
  explicit EventLoopWatch(boost::asio::io_context& ioc);
  ~EventLoopWatch() override = default;

  // check() runs `period` from now (10 ms at least), unless a check is due already.
  void arm(Clock::duration period);
  virtual void check() = 0;
  // No check runs any more: the event loop ends (called from the watch's shutdown()).
  void stop() { timer_.cancel(); }

 private:
  boost::asio::steady_timer timer_;
  bool armed_ = false;
};

}  // namespace switchboard::server
