// idle: N connections spread over R rooms, each subscribed (every reply awaited), then a few
// quiet seconds: the node's resident memory per idle connection.
#pragma once

#include <nlohmann/json.hpp>

#include "Options.h"

namespace switchboard::bench {

class IdleWorkload {
 public:
  static nlohmann::ordered_json run(Options& options);
};

}  // namespace switchboard::bench
