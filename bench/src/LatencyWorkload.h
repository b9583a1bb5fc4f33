// latency: P publishers at a fixed total rate across R rooms, N subscribers spread over the
// rooms. Every message carries its send time (steady_clock; both ends are this process), so each
// delivery gives one end-to-end latency sample: p50/p99/p99.9, plus the node's CPU time.
#pragma once

#include <chrono>
#include <cstddef>

#include <nlohmann/json.hpp>

#include "Deployment.h"
#include "Options.h"

namespace switchboard::bench {

class LatencyWorkload {
 public:
  struct Params {
    std::size_t subscribers = 200;
    std::size_t rooms = 10;
    std::size_t publishers = 10;
    double rate = 1000;  // messages per second, all publishers together
    double seconds = 10;
    double warmup_seconds = 1;  // sent, checked, not sampled
    std::size_t payload_bytes = 64;
  };

  static Params read(Options& options);
  // Against started node(s): subscribers spread round-robin over the nodes, publishers on node 0.
  static nlohmann::ordered_json measure(Deployment& deployment, const Params& params);
  static nlohmann::ordered_json run(Options& options);
};

}  // namespace switchboard::bench
