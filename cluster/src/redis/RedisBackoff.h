#pragma once
// The wait before a connection to Redis tries again: capped exponential backoff with full
// jitter, a random delay between min/2 and min(max, min * 2^failures), so that nodes that lost
// Redis together do not all come back at the same instant.
#include <algorithm>
#include <chrono>
#include <random>
#include <string>

#include "switchboard/cluster/RedisTiming.h"

namespace switchboard::cluster {

class RedisBackoff {
 public:
  explicit RedisBackoff(const RedisTiming& timing) : min_(timing.backoff_min), max_(timing.backoff_max) {}

  // The next delay, after one more failed attempt.
  std::chrono::milliseconds next() {
    ++failures_;
    auto ceiling = std::min<long long>(min_.count() << std::min(failures_, 16u), max_.count());
    return std::chrono::milliseconds(std::uniform_int_distribution<long long>(min_.count() / 2, ceiling)(random_));
  }
  // After a connection came up.
  void succeeded() { failures_ = 0; }
  unsigned failures() const { return failures_; }
  // Whether the attempt that just failed is worth a log line: the first of a run of failures,
  // then one every 10 s (a Redis down for a while fills no log). Before next().
  bool worth_logging() {
    auto now = std::chrono::steady_clock::now();
    if (failures_ > 0 && now - last_logged_ < std::chrono::seconds(10)) return false;
    last_logged_ = now;
    return true;
  }
  // For the log lines of a long run of failures: " (still, after N tries)".
  std::string attempts() const {
    return failures_ < 2 ? std::string() : " (still, after " + std::to_string(failures_) + " tries)";
  }

 private:
  std::chrono::milliseconds min_, max_;
  unsigned failures_ = 0;
  std::chrono::steady_clock::time_point last_logged_{};
  std::mt19937 random_{std::random_device{}()};
};

}  // namespace switchboard::cluster
