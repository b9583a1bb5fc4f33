// fanout: one publisher, N subscribers in one room, M messages of S bytes, at most W messages
// outstanding (unacknowledged, or not yet delivered to every subscriber). Measures deliveries
// per second and the node's CPU time per delivery; checks that nothing is lost and that every
// subscriber sees the messages in order.
#pragma once

#include <chrono>
#include <cstddef>

#include <nlohmann/json.hpp>

#include "Deployment.h"
#include "Options.h"

namespace switchboard::bench {

class FanoutWorkload {
 public:
  struct Params {
    std::size_t subscribers = 1000;
    std::size_t messages = 5000;
    std::size_t payload_bytes = 64;
    std::size_t window = 100;
    std::chrono::seconds timeout{120};
  };

  static Params read(Options& options);
  // Against started node(s): subscribers spread round-robin over the nodes, the publisher on node 0.
  static nlohmann::ordered_json measure(Deployment& deployment, const Params& params);
  // Starts one node, measures, stops it.
  static nlohmann::ordered_json run(Options& options);
};

}  // namespace switchboard::bench
