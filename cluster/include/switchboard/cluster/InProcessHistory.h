#pragma once
// The rooms' numbering and recent messages on a single node, in memory.
//
// Each room has a log: its epoch (random, made when the log is), its latest offset and its
// recent messages, trimmed to the policy's size and time to live. A log is forgotten when it
// holds no message, the node has no subscriber in the room, and it was not used for the room's
// time to live; the room gets a new epoch if it is used again.
//
// Thread-safe. A room's publishes are numbered and delivered under the room's own lock, so that
// every subscriber sees them in offset order; rooms do not contend with each other.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "switchboard/cluster/Bus.h"
#include "switchboard/cluster/HistoryPolicy.h"
#include "switchboard/protocol/Messages.h"

namespace switchboard::cluster {

class InProcessHistory {
 public:
  using Clock = std::chrono::steady_clock;

  explicit InProcessHistory(HistoryPolicy policy = {}) : policy_(std::move(policy)) {}

  // Numbers `push` (a message push without its offset), keeps it, and calls
  // deliver(numbered push, offset, epoch) with the room's lock held. Returns the offset.
  template <class Deliver>
  std::uint64_t append(const std::string& room, const protocol::Payload& push, Deliver&& deliver) {
    std::shared_ptr<Log> log = log_of(room);
    std::lock_guard lock(log->mutex);
    auto now = Clock::now();
    std::uint64_t offset = ++log->offset;
    auto numbered = protocol::make_payload(protocol::with_offset(*push, offset));
    log->last_used = now;
    if (log->limits.size > 0) {
      log->entries.push_back({offset, numbered, now});
      trim(*log, now);
    }
    deliver(numbered, offset, std::string_view(log->epoch));
    return offset;
  }

  Bus::History read(const std::string& room, std::optional<std::uint64_t> after, std::size_t limit);
  // Whether the node has local subscribers in the room: their rooms' logs are kept.
  void retain(const std::string& room, bool subscribed);
  // Drops expired messages, and logs with nothing left to keep.
  void sweep();
  std::size_t room_count() const;

 private:
  struct Stored {
    std::uint64_t offset;
    protocol::Payload push;
    Clock::time_point at;
  };
  struct Log {
    std::mutex mutex;
    std::string epoch;
    HistoryLimits limits;
    std::uint64_t offset = 0;
    std::deque<Stored> entries;
    Clock::time_point last_used;
    std::atomic<bool> subscribed{false};
  };

  std::shared_ptr<Log> log_of(const std::string& room);
  static void trim(Log& log, Clock::time_point now);

  HistoryPolicy policy_;
  mutable std::shared_mutex mutex_;  // guards the map, never held while a log's lock is awaited
  std::unordered_map<std::string, std::shared_ptr<Log>> logs_;
};

}  // namespace switchboard::cluster
