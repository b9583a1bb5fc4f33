#include "switchboard/cluster/InProcessHistory.h"

#include "switchboard/cluster/RandomId.h"

namespace switchboard::cluster {

std::shared_ptr<InProcessHistory::Log> InProcessHistory::log_of(const std::string& room) {
  {
    std::shared_lock lock(mutex_);
    if (auto it = logs_.find(room); it != logs_.end()) return it->second;
  }
  std::unique_lock lock(mutex_);
  return made_log_of(room);
}

std::shared_ptr<InProcessHistory::Log>& InProcessHistory::made_log_of(const std::string& room) {
  auto& log = logs_[room];
  if (!log) {
    log = std::make_shared<Log>();
    log->epoch = random_id();
    log->limits = policy_.limits_for(room);
    log->last_used = now_();
  }
  return log;
}

std::unique_lock<std::mutex> InProcessHistory::locked_log_of(const std::string& room, std::shared_ptr<Log>& log) {
  for (;;) {
    log = log_of(room);
    std::unique_lock lock(log->mutex);
    if (!log->forgotten) return lock;
  }
}

void InProcessHistory::pop_front(Log& log) {
  bytes_ -= log.entries.front().push->size();
  --stored_;
  log.entries.pop_front();
}

void InProcessHistory::trim(Log& log, Clock::time_point now) {
  while (log.entries.size() > log.limits.size) pop_front(log);
  while (!log.entries.empty() && now - log.entries.front().at >= log.limits.ttl) pop_front(log);
}

void InProcessHistory::note_kept(const std::shared_ptr<Log>& log, std::uint64_t offset) {
  std::lock_guard order_lock(order_mutex_);
  order_.push_back({log, offset});
  // Evicted from the front of the room's log only: its messages stay consecutive up to the
  // latest, and a read from before them reports itself incomplete (recovered:false).
  while (bytes_.load() > max_bytes_ && !order_.empty()) {
    Kept oldest = std::move(order_.front());
    order_.pop_front();
    auto owner = oldest.log.lock();
    if (!owner) continue;
    std::lock_guard lock(owner->mutex);
    while (!owner->entries.empty() && owner->entries.front().offset <= oldest.offset) {
      pop_front(*owner);
      ++evictions_;
    }
  }
  // Messages trimmed by their room's size or time to live leave stale records behind: drop
  // them once they outnumber the kept messages, so that the record stays as small as the history.
  if (order_.size() > 2 * stored_.load() + 1024) {
    std::deque<Kept> live;
    for (auto& kept : order_) {
      auto owner = kept.log.lock();
      if (!owner) continue;
      std::lock_guard lock(owner->mutex);
      if (!owner->entries.empty() && owner->entries.front().offset <= kept.offset) live.push_back(std::move(kept));
    }
    order_.swap(live);
  }
}

Broker::History InProcessHistory::read(const std::string& room, std::optional<std::uint64_t> after, std::size_t limit) {
  std::shared_ptr<Log> log;
  auto lock = locked_log_of(room, log);
  auto now = now_();
  trim(*log, now);
  log->last_used = now;
  Broker::History history;
  history.available = true;
  history.position = {log->offset, log->epoch};
  const auto& entries = log->entries;
  std::size_t first = 0;  // index of the first message to return
  if (after) {
    if (*after >= log->offset) {
      history.complete = *after == log->offset;
      return history;
    }
    std::uint64_t oldest = entries.empty() ? log->offset + 1 : entries.front().offset;
    // Entries are consecutive offsets ending at log->offset.
    first = *after + 1 >= oldest ? static_cast<std::size_t>(*after + 1 - oldest) : 0;
    history.complete = *after + 1 >= oldest && log->offset - *after <= limit;
  } else if (entries.size() > limit) {
    first = entries.size() - limit;
  }
  for (std::size_t i = first; i < entries.size() && history.messages.size() < limit; ++i)
    history.messages.push_back({entries[i].offset, entries[i].push});
  return history;
}

void InProcessHistory::retain(const std::string& room, bool subscribed) {
  if (subscribed) {
    // Under the map's exclusive lock, which sweep() holds while it decides and forgets: it either
    // sees the subscriber or has forgotten the log already (then the room gets a new one, which
    // keeps it). Not under the log's lock: the room registry calls this with its own lock held,
    // and a publish holds the log's lock while it delivers through the registry.
    std::unique_lock lock(mutex_);
    made_log_of(room)->subscribed = true;
    return;
  }
  std::shared_lock lock(mutex_);
  if (auto it = logs_.find(room); it != logs_.end()) it->second->subscribed = false;
}

void InProcessHistory::sweep(Clock::time_point now) {
  std::unique_lock lock(mutex_);
  for (auto it = logs_.begin(); it != logs_.end();) {
    Log& log = *it->second;
    std::unique_lock log_lock(log.mutex, std::try_to_lock);
    if (!log_lock) {  // busy publishing: certainly in use
      ++it;
      continue;
    }
    trim(log, now);
    bool forget = log.entries.empty() && !log.subscribed && now - log.last_used >= log.limits.ttl;
    log.forgotten = forget;
    log_lock.unlock();
    it = forget ? logs_.erase(it) : std::next(it);
  }
}

std::size_t InProcessHistory::room_count() const {
  std::shared_lock lock(mutex_);
  return logs_.size();
}

}  // namespace switchboard::cluster
