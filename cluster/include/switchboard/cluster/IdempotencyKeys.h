#pragma once
// The embedded broker's idempotency keys: a publish that carries the key of one accepted within
// the window gets that publish's offset and is not published again. A cluster keeps its keys in
// Redis instead (the publish script), so that a retry through another node is recognised too.
//
// Thread-safe. A key is claimed before its publish and settled after it: a publish with the
// same key that comes meanwhile (from another thread) waits for the first one's answer and gets
// it. A publish that was not accepted frees its key, so that a retry publishes.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace switchboard::cluster {

class IdempotencyKeys {
 public:
  using Clock = std::chrono::steady_clock;
  using Answer = std::function<void(std::optional<std::uint64_t> offset)>;
  // Keys kept at most (the oldest go first past it, and are counted as evicted).
  static constexpr std::size_t kMaxKeys = 65536;

  // window: how long an accepted publish's key is remembered (zero: keys are not kept at all).
  explicit IdempotencyKeys(std::chrono::milliseconds window, std::size_t max_keys = kMaxKeys);

  // True when the caller publishes now and must settle() the key after. False when the key is
  // known: `answer` has been called with the first publish's offset, or will be once that
  // publish is settled.
  bool claim(const std::string& key, Answer& answer);
  // The claimed publish's outcome: an offset remembers the key for the window; nullopt frees it.
  // Calls the answers of the publishes that waited for it, outside the lock.
  void settle(const std::string& key, std::optional<std::uint64_t> offset);

  std::uint64_t duplicates() const;
  std::uint64_t evictions() const;
  std::size_t size() const;

 private:
  struct Entry {
    std::optional<std::uint64_t> offset;  // nullopt while its publish is under way
    std::vector<Answer> waiting;
  };
  void forget_expired(Clock::time_point now);

  const std::chrono::milliseconds window_;
  const std::size_t max_keys_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  // Settled keys in the order they expire (the window is the same for all).
  std::deque<std::pair<Clock::time_point, std::string>> expiry_;
  std::uint64_t duplicates_ = 0;
  std::uint64_t evictions_ = 0;
};

}  // namespace switchboard::cluster
