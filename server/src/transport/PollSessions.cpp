#include "transport/PollSessions.h"

namespace switchboard::server {

void PollSessions::add(const std::string& id, std::shared_ptr<PollSession> session) {
  std::lock_guard lock(mutex_);
  sessions_[id] = std::move(session);
}

std::shared_ptr<PollSession> PollSessions::find(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second;
}

void PollSessions::remove(const std::string& id) {
  std::shared_ptr<PollSession> gone;  // released after the lock: its destructor may run here
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  gone = std::move(it->second);
  sessions_.erase(it);
}

std::size_t PollSessions::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

}  // namespace switchboard::server
