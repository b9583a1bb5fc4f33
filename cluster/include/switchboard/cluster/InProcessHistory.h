#pragma once
// The rooms' numbering and recent messages on a single node, in memory.
//
// Each room has a log: its epoch (random, made when the log is), its latest offset and its
// recent messages, trimmed to the policy's size and time to live. All rooms' messages together
// stay within a byte budget (--history-max-bytes): past it, the node's oldest messages are
// evicted first, each from the front of its room's log, so that a recovery from before them is
// told it is incomplete rather than given a gap. A log is forgotten when it
// holds no message, the node has no subscriber in the room, and it was not used for the room's
// time to live; the room gets a new epoch if it is used again.
//
// Its time (messages' age, rooms' last use) is the steady clock's, read through the function it is
// given: tests give their own.
//
// Thread-safe. A room's publishes are numbered and delivered under the room's own lock, so that
// every subscriber sees them in offset order; rooms do not contend with each other.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "switchboard/cluster/Broker.h"
#include "switchboard/cluster/HistoryPolicy.h"
#include "switchboard/protocol/Messages.h"

namespace switchboard::cluster {

class InProcessHistory {
 public:
  using Clock = std::chrono::steady_clock;
  using Now = std::function<Clock::time_point()>;

  // max_bytes: the budget of all rooms' kept messages (their text); 0: none. now: the time.
  explicit InProcessHistory(HistoryPolicy policy = {}, std::size_t max_bytes = 0,
                            Now now = [] { return Clock::now(); })
      : policy_(std::move(policy)), max_bytes_(max_bytes), now_(std::move(now)) {}

  // Numbers `push` (a message push without its offset), keeps it, and calls
  // deliver(numbered push, offset, epoch) with the room's lock held. Returns the offset.
  template <class Deliver>
  std::uint64_t append(const std::string& room, const protocol::Payload& push, Deliver&& deliver) {
    std::shared_ptr<Log> log;
    std::uint64_t offset;
    bool kept;
    {
      std::unique_lock lock = locked_log_of(room, log);
      auto now = now_();
      offset = ++log->offset;
      auto numbered = protocol::make_payload(protocol::with_offset(*push, offset));
      log->last_used = now;
      kept = log->limits.size > 0;
      if (kept) {
        log->entries.push_back({offset, numbered, now});
        bytes_ += numbered->size();
        ++stored_;
        trim(*log, now);
      }
      deliver(numbered, offset, std::string_view(log->epoch));
    }
    // Outside the room's lock: eviction takes other rooms' locks.
    if (kept && max_bytes_ > 0) note_kept(log, offset);
    return offset;
  }

  Broker::History read(const std::string& room, std::optional<std::uint64_t> after, std::size_t limit);
  // Whether the node has local subscribers in the room: their rooms' logs are kept.
  void retain(const std::string& room, bool subscribed);
  // Drops expired messages, and logs with nothing left to keep, as of now (or of `now`).
  void sweep() { sweep(now_()); }
  void sweep(Clock::time_point now);
  std::size_t room_count() const;
  // Bytes of messages kept, in every room; messages evicted to stay within the budget.
  std::size_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  std::uint64_t evictions() const { return evictions_.load(std::memory_order_relaxed); }

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
    // Set under the log's lock by sweep() as it leaves the map: whoever got the log before and
    // locks it after must look the room up again, or it would number and deliver in a log that
    // no one else sees, alongside the room's new one.
    bool forgotten = false;
  };

  // A kept message, in the order of the node's messages: what the budget evicts first.
  struct Kept {
    std::weak_ptr<Log> log;
    std::uint64_t offset;
  };

  std::shared_ptr<Log> log_of(const std::string& room);
  // The room's log, made if it has none; with the map's exclusive lock held.
  std::shared_ptr<Log>& made_log_of(const std::string& room);
  // The room's log, in the map and locked: looked up again while the one found was forgotten
  // before its lock was taken.
  std::unique_lock<std::mutex> locked_log_of(const std::string& room, std::shared_ptr<Log>& log);
  // Drops the messages past the log's size and time to live.
  void trim(Log& log, Clock::time_point now);
  void pop_front(Log& log);
  // Records a kept message, and evicts the oldest ones while the budget is exceeded.
  void note_kept(const std::shared_ptr<Log>& log, std::uint64_t offset);

  HistoryPolicy policy_;
  const std::size_t max_bytes_;
  const Now now_;
  std::atomic<std::size_t> bytes_{0};
  std::atomic<std::uint64_t> evictions_{0};
  std::atomic<std::size_t> stored_{0};  // messages kept, in every room
  // Taken after a log's lock is released, never while one is held; eviction takes logs' locks
  // under it.
  std::mutex order_mutex_;
  std::deque<Kept> order_;  // oldest first; entries of messages trimmed since are skipped
  mutable std::shared_mutex mutex_;  // guards the map, never held while a log's lock is awaited
  std::unordered_map<std::string, std::shared_ptr<Log>> logs_;
};

}  // namespace switchboard::cluster
