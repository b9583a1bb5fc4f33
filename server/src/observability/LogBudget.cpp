#include "observability/LogBudget.h"

namespace switchboard::server {

std::optional<std::uint64_t> LogBudget::take(TokenBucket::Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (!bucket_.try_take(now)) {
    ++pending_;
    ++left_out_;
    return std::nullopt;
  }
  auto before = pending_;
  pending_ = 0;
  return before;
}

std::string LogBudget::line_suffix(std::uint64_t left_out, std::string_view what) {
  if (left_out == 0) return {};
  return " (" + std::to_string(left_out) + " more " + std::string(what) + " left out of the log before this one)";
}

std::uint64_t LogBudget::left_out() const {
  std::lock_guard lock(mutex_);
  return left_out_;
}

}  // namespace switchboard::server
