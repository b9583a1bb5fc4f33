#pragma once
// How many lines of one kind the log may take: `burst` at once, then `rate` a second, so that a
// client refused in a loop or a backend down under load cannot flood it. What goes over is
// counted, and the next line written says how many were left out (line_suffix). Thread-safe.
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "admission/TokenBucket.h"

namespace switchboard::server {

class LogBudget {
 public:
  LogBudget(double rate, double burst, TokenBucket::Clock::time_point now = TokenBucket::Clock::now())
      : bucket_(rate, burst, now) {}

  // When a line may be written now: how many were left out since the last one written (which
  // the line should say: line_suffix). None: over the budget, this one is left out (and counted).
  std::optional<std::uint64_t> take(TokenBucket::Clock::time_point now = TokenBucket::Clock::now());
  // " (N more <what> left out of the log before this one)", or nothing when none was.
  static std::string line_suffix(std::uint64_t left_out, std::string_view what);
  std::uint64_t left_out() const;  // lines left out in all

 private:
  mutable std::mutex mutex_;
  TokenBucket bucket_;
  std::uint64_t pending_ = 0;  // left out since the last line written
  std::uint64_t left_out_ = 0;
};

}  // namespace switchboard::server
