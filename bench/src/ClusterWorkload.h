// cluster: the fanout, latency and publish workloads against two nodes sharing a redis-server,
// or a Redis Cluster of N masters with --redis-cluster-masters N (all started here, with Redis, on
// the node CPU), subscribers spread over both nodes, publishers on the first. CPU per delivery is
// summed over both nodes; Redis's CPU is reported beside it (per master, too, on a Redis Cluster).
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "Options.h"

namespace switchboard::bench {

class ClusterWorkload {
 public:
  // Three JSON lines: "cluster-fanout", "cluster-latency" and "cluster-publish".
  static std::vector<nlohmann::ordered_json> run(Options& options);
};

}  // namespace switchboard::bench
