#pragma once
// A token's own rate limits: its "limits" claim, honoured only by a node started with
// --token-limits (otherwise the claim is ignored). Each field present replaces the node's option
// of the same name for the connections (and HTTP publishes) made with the token; a missing field
// keeps the node's. Rates are per second, 0 meaning unlimited, like the node's options.
//
//   "limits": {"publish_rate": 2000, "publish_burst": 4000, "request_rate": 50, "request_burst": 100}
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace switchboard::auth {

struct TokenLimits {
  std::optional<double> publish_rate;   // publishes per second; 0: unlimited
  std::optional<double> publish_burst;  // publishes at once before the rate applies; at least 1
  std::optional<double> request_rate;   // other requests per second; 0: unlimited
  std::optional<double> request_burst;  // other requests at once; at least 1

  // From the claim: an object of those fields only, each a finite number, rates >= 0 and
  // bursts >= 1. Throws std::invalid_argument with a readable message on anything else.
  static TokenLimits parse(const nlohmann::json& claim);
};

}  // namespace switchboard::auth
