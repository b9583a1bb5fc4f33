#include "switchboard/cluster/IdempotencyKeys.h"

#include <utility>

namespace switchboard::cluster {

IdempotencyKeys::IdempotencyKeys(std::chrono::milliseconds window, std::size_t max_keys)
    : window_(window), max_keys_(max_keys) {}

bool IdempotencyKeys::claim(const std::string& key, Answer& answer) {
  std::optional<std::uint64_t> known;
  {
    std::lock_guard lock(mutex_);
    forget_expired(Clock::now());
    auto [it, fresh] = entries_.try_emplace(key);
    if (fresh) return true;
    ++duplicates_;
    if (!it->second.offset) {
      it->second.waiting.push_back(std::move(answer));
      return false;
    }
    known = it->second.offset;
  }
  answer(known);
  return false;
}

void IdempotencyKeys::settle(const std::string& key, std::optional<std::uint64_t> offset) {
  std::vector<Answer> waiting;
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    waiting.swap(it->second.waiting);
    if (offset && window_.count() > 0) {
      it->second.offset = offset;
      expiry_.emplace_back(Clock::now() + window_, key);
      while (expiry_.size() > max_keys_) {
        entries_.erase(expiry_.front().second);
        expiry_.pop_front();
        ++evictions_;
      }
    } else {
      entries_.erase(it);
    }
  }
  for (auto& answer : waiting) answer(offset);
}

void IdempotencyKeys::forget_expired(Clock::time_point now) {
  while (!expiry_.empty() && expiry_.front().first <= now) {
    entries_.erase(expiry_.front().second);
    expiry_.pop_front();
  }
}

std::uint64_t IdempotencyKeys::duplicates() const {
  std::lock_guard lock(mutex_);
  return duplicates_;
}

std::uint64_t IdempotencyKeys::evictions() const {
  std::lock_guard lock(mutex_);
  return evictions_;
}

std::size_t IdempotencyKeys::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace switchboard::cluster
