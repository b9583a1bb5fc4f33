// connections: many subscribed connections at once (19,000 by default, spread over rooms), then a
// few messages published to every room: how many connections got every one of them, and the
// node's memory per connection.
#pragma once

#include <nlohmann/json.hpp>

#include "Options.h"

namespace switchboard::bench {

class ConnectionsWorkload {
 public:
  static nlohmann::ordered_json run(Options& options);
};

}  // namespace switchboard::bench
