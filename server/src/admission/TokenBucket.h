#pragma once
#include <chrono>
#include <string>

namespace switchboard::server {

// A token bucket: `burst` tokens at most, refilled at `rate` per second. rate 0 = unlimited.
// Not thread-safe: each connection owns one and touches it on its own thread.
class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  TokenBucket(double rate, double burst, Clock::time_point now = Clock::now());
  // Takes one token if there is one.
  bool try_take(Clock::time_point now = Clock::now());
  double rate() const { return rate_; }
  double burst() const { return burst_; }

 private:
  double rate_;
  double burst_;
  double tokens_;
  Clock::time_point last_;
};

// A rate or burst as people write it, for messages: 100, 0.5, 2000.
std::string rate_text(double n);

}  // namespace switchboard::server
