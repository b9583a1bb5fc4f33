// cluster: the fanout and latency workloads against two nodes sharing a redis-server (both
// started here, with Redis, on the node CPU), subscribers spread over both nodes, publishers on
// the first. CPU per delivery is summed over both nodes; Redis's CPU is reported beside it.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "Options.h"

namespace switchboard::bench {

class ClusterWorkload {
 public:
  // Two JSON lines: "cluster-fanout" and "cluster-latency".
  static std::vector<nlohmann::ordered_json> run(Options& options);
};

}  // namespace switchboard::bench
