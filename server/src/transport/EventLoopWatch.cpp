#include "transport/EventLoopWatch.h"

#include <algorithm>

namespace switchboard::server {

EventLoopWatch::EventLoopWatch(boost::asio::io_context& ioc)
    : boost::asio::execution_context::service(ioc), timer_(ioc) {}

void EventLoopWatch::arm(Clock::duration period) {
  if (armed_) return;
  armed_ = true;
  timer_.expires_after(std::max<Clock::duration>(period, std::chrono::milliseconds(10)));
  timer_.async_wait([this](boost::system::error_code ec) {
    armed_ = false;
    if (!ec) check();
  });
}

}  // namespace switchboard::server
