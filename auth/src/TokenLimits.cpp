#include "switchboard/auth/TokenLimits.h"

#include <cmath>
#include <stdexcept>

namespace switchboard::auth {

TokenLimits TokenLimits::parse(const nlohmann::json& claim) {
  if (!claim.is_object()) throw std::invalid_argument("limits claim must be an object");
  TokenLimits limits;
  for (const auto& [name, value] : claim.items()) {
    std::optional<double>* field = name == "publish_rate"    ? &limits.publish_rate
                                   : name == "publish_burst" ? &limits.publish_burst
                                   : name == "request_rate"  ? &limits.request_rate
                                   : name == "request_burst" ? &limits.request_burst
                                                             : nullptr;
    if (!field)
      throw std::invalid_argument("limits claim has an unknown field \"" + name +
                                  "\" (publish_rate, publish_burst, request_rate, request_burst)");
    bool burst = name.ends_with("_burst");
    if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < (burst ? 1 : 0))
      throw std::invalid_argument("limits claim's " + name + " must be a number " + (burst ? ">= 1" : ">= 0 (0: unlimited)"));
    *field = value.get<double>();
  }
  return limits;
}

}  // namespace switchboard::auth
