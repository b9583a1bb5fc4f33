#pragma once
// WebSocket handshakes per client address: a token bucket per address, so that one address that
// reconnects in a loop (a broken client, or an attack) cannot take the node's handshake capacity
// from everyone else. Thread-safe. Addresses idle for a minute are forgotten once the table grows.
// The HTTP API uses it too, keyed by caller (API key, token user, anonymous address), for its publishes.
#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "admission/TokenBucket.h"

namespace switchboard::server {

class HandshakeLimiter {
 public:
  // rate 0: no limit.
  HandshakeLimiter(double rate, double burst) : rate_(rate), burst_(burst) {}

  // Whether a handshake from `address` may proceed now (and counts it).
  bool allow(const std::string& address, TokenBucket::Clock::time_point now = TokenBucket::Clock::now());
  // The same with a rate and burst of the key's own (a token's limits), instead of the limiter's.
  // A key keeps the bucket it got first: keys with limits of their own should name them.
  bool allow(const std::string& key, double rate, double burst,
             TokenBucket::Clock::time_point now = TokenBucket::Clock::now());
  std::size_t tracked() const;

 private:
  struct Entry {
    TokenBucket bucket;
    TokenBucket::Clock::time_point last;
  };

  double rate_;
  double burst_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> addresses_;
};

}  // namespace switchboard::server
