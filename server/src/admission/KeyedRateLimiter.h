#pragma once
// A token bucket per key, thread-safe: WebSocket handshakes and Server-Sent Events streams per
// client address (one address that reconnects in a loop, a broken client or an attack, cannot
// take the node's handshake capacity from everyone else), and the HTTP API's publishes per
// caller (API key, token user, anonymous address). Keys idle for a minute are forgotten once the
// table holds 10,000, in one pass at most every second: a table that many busy keys hold full
// costs a handshake no scan.
#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "admission/TokenBucket.h"

namespace switchboard::server {

class KeyedRateLimiter {
 public:
  // rate 0: no limit.
  KeyedRateLimiter(double rate, double burst) : rate_(rate), burst_(burst) {}

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
  TokenBucket::Clock::time_point pruned_{};  // the last pass over the table
};

}  // namespace switchboard::server
