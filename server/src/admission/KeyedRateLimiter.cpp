#include "admission/KeyedRateLimiter.h"

namespace switchboard::server {

namespace {
constexpr std::size_t kPruneAbove = 10000;  // addresses tracked before idle ones are dropped
constexpr std::chrono::seconds kIdle{60};
constexpr std::chrono::seconds kPruneEvery{1};
}  // namespace

bool KeyedRateLimiter::allow(const std::string& address, TokenBucket::Clock::time_point now) {
  return allow(address, rate_, burst_, now);
}

bool KeyedRateLimiter::allow(const std::string& address, double rate, double burst, TokenBucket::Clock::time_point now) {
  if (rate <= 0) return true;
  std::lock_guard lock(mutex_);
  if (addresses_.size() >= kPruneAbove && now - pruned_ >= kPruneEvery) {
    pruned_ = now;
    // An address idle this long has a full bucket again: forgetting it changes nothing.
    for (auto it = addresses_.begin(); it != addresses_.end();)
      it = now - it->second.last > kIdle ? addresses_.erase(it) : std::next(it);
  }
  auto [it, added] = addresses_.try_emplace(address, Entry{TokenBucket(rate, burst, now), now});
  it->second.last = now;
  return it->second.bucket.try_take(now);
}

std::size_t KeyedRateLimiter::tracked() const {
  std::lock_guard lock(mutex_);
  return addresses_.size();
}

}  // namespace switchboard::server
