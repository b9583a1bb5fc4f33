#pragma once
// The node's deny-list (POST /api/disconnect with "until"): handshakes refused until a time, by
// user, by token id (the JWT's "jti"), or by both together. Every node keeps it in memory, fed by
// the control channel (and, in a cluster, from Redis when the node starts), so that a handshake
// is checked without a round trip. Thread-safe: one mutex, held for a lookup or an insert.
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace switchboard::server {

class DenyList {
 public:
  using Clock = std::chrono::system_clock;

  // Refuses handshakes whose user is `user` (unless empty) and whose token id is `token_id`
  // (unless empty) until `until`; a later `until` for the same pair replaces an earlier one.
  void deny(const std::string& user, const std::string& token_id, Clock::time_point until);
  // Until when a handshake of `user` with token `token_id` is refused; nullopt when it is not.
  std::optional<Clock::time_point> refused_until(const std::string& user, const std::string& token_id,
                                                 Clock::time_point now = Clock::now()) const;
  std::size_t size() const;

 private:
  // Entries that ran out are dropped as inserts come by.
  void forget_expired(Clock::time_point now);

  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, Clock::time_point> entries_;  // (user, token id) → until
};

}  // namespace switchboard::server
