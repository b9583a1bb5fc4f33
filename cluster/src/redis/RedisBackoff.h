#pragma once
// The wait before a connection to Redis tries again: capped exponential backoff with full
// jitter, a random delay between min/2 and min(max, min * 2^failures), so that nodes that lost
// Redis together do not all come back at the same instant.
#include <algorithm>
#include <chrono>
#include <random>

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

 private:
  std::chrono::milliseconds min_, max_;
  unsigned failures_ = 0;
  std::mt19937 random_{std::random_device{}()};
};

}  // namespace switchboard::cluster
