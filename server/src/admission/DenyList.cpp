#include "admission/DenyList.h"

#include <algorithm>

namespace switchboard::server {

void DenyList::deny(const std::string& user, const std::string& token_id, Clock::time_point until) {
  auto now = Clock::now();
  std::lock_guard lock(mutex_);
  forget_expired(now);
  if (until <= now) return;
  auto& at = entries_[{user, token_id}];
  at = std::max(at, until);
}

std::optional<DenyList::Clock::time_point> DenyList::refused_until(const std::string& user, const std::string& token_id,
                                                                   Clock::time_point now) const {
  std::lock_guard lock(mutex_);
  if (entries_.empty()) return std::nullopt;
  std::optional<Clock::time_point> until;
  auto check = [&](const std::string& u, const std::string& t) {
    auto it = entries_.find({u, t});
    if (it != entries_.end() && it->second > now && (!until || it->second > *until)) until = it->second;
  };
  check(user, "");
  if (!token_id.empty()) {
    check("", token_id);
    check(user, token_id);
  }
  return until;
}

std::size_t DenyList::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

void DenyList::forget_expired(Clock::time_point now) {
  std::erase_if(entries_, [&](const auto& entry) { return entry.second <= now; });
}

}  // namespace switchboard::server
