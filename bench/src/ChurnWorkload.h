// churn: connections opened and closed at a fixed rate for some seconds (each one connects,
// subscribes, waits for the reply, closes): the handshakes per second achieved, and whether the
// node's memory returns to its baseline afterwards (before / peak / after, per round).
#pragma once

#include <nlohmann/json.hpp>

#include "Options.h"

namespace switchboard::bench {

class ChurnWorkload {
 public:
  static nlohmann::ordered_json run(Options& options);
};

}  // namespace switchboard::bench
