#pragma once
// Refused WebSocket handshakes and streams, logged at info level so that an operator sees why
// clients cannot connect (a page on an origin not in --allowed-origins, expired tokens) — at most
// `burst` lines at once and `rate` a second after that, so that a client refused in a loop
// cannot flood the log; the next line written says how many were left out. Never the token:
// the caller gives the path without its query. Thread-safe.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "admission/TokenBucket.h"
#include "observability/LogBudget.h"

namespace switchboard::server {

class RefusalLog {
 public:
  // A burst of 10 lines, then one a second.
  RefusalLog() : RefusalLog(1, 10) {}
  RefusalLog(double rate, double burst, TokenBucket::Clock::time_point now = TokenBucket::Clock::now())
      : budget_(rate, burst, now) {}

  // Logs "refused <what> from <address>[ (Origin <origin>)]: <status> <code>", unless over the rate.
  void refused(std::string_view what, std::string_view address, std::string_view origin, unsigned status,
               std::string_view code, TokenBucket::Clock::time_point now = TokenBucket::Clock::now());
  std::uint64_t left_out() const { return budget_.left_out(); }  // lines left out in all

 private:
  LogBudget budget_;
};

}  // namespace switchboard::server
