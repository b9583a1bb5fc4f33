#pragma once
// The write deadline of a connection (--write-timeout): a write to the client that is still under
// way after the timeout means the client takes nothing, and the connection is given up (4008),
// whatever else it still sends. Used on the connection's thread only.
//
// One timer per connection, made at its first write and armed at most once per timeout while
// writes go on (not once per write): when it fires, it checks the write under way, if any, and
// waits for that one's deadline; with none under way it is freed, so that idle connections
// hold no timer.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>

namespace switchboard::server {

class WriteDeadline {
 public:
  using Clock = std::chrono::steady_clock;

  // `expired` is called, on the connection's thread, when a write has been under way for
  // `timeout`; the timer does not keep `owner` (the connection, which owns this object) alive.
  void started(const boost::asio::any_io_executor& executor, Clock::duration timeout,
               const std::shared_ptr<void>& owner, const std::function<void()>& expired);
  void finished() {
    if (state_) state_->under_way = false;
  }
  void cancel();

 private:
  void arm(Clock::time_point at, std::weak_ptr<void> owner);

  struct State {
    explicit State(const boost::asio::any_io_executor& executor) : timer(executor) {}
    boost::asio::steady_timer timer;
    std::function<void()> expired;
    Clock::duration timeout{};
    Clock::time_point started;  // of the write under way
    bool under_way = false;
    bool armed = false;
  };
  std::unique_ptr<State> state_;  // while writes go on
  bool cancelled_ = false;
};

}  // namespace switchboard::server
