#include "ClusterWorkload.h"

#include "Deployment.h"
#include "FanoutWorkload.h"
#include "LatencyWorkload.h"

namespace switchboard::bench {

std::vector<nlohmann::ordered_json> ClusterWorkload::run(Options& options) {
  const auto nodes = static_cast<int>(options.integer("nodes", 2));
  FanoutWorkload::Params fanout;
  fanout.subscribers = static_cast<std::size_t>(options.integer("fanout-subscribers", 1000));
  fanout.messages = static_cast<std::size_t>(options.integer("fanout-messages", 5000));
  fanout.payload_bytes = static_cast<std::size_t>(options.integer("payload", 64));
  fanout.window = static_cast<std::size_t>(options.integer("window", 100));
  LatencyWorkload::Params latency;
  latency.subscribers = static_cast<std::size_t>(options.integer("latency-subscribers", 200));
  latency.rooms = static_cast<std::size_t>(options.integer("rooms", 10));
  latency.publishers = static_cast<std::size_t>(options.integer("publishers", 10));
  latency.rate = options.number("rate", 1000);
  latency.seconds = options.number("seconds", 10);
  latency.payload_bytes = fanout.payload_bytes;
  const bool skip_fanout = options.flag("latency-only"), skip_latency = options.flag("fanout-only");
  Deployment deployment(options);
  options.reject_unknown();
  deployment.start(nodes);

  std::vector<nlohmann::ordered_json> lines;
  if (!skip_fanout) {
    nlohmann::ordered_json line{{"workload", "cluster-fanout"}};
    line.update(FanoutWorkload(deployment, fanout).measure());
    lines.push_back(std::move(line));
  }
  if (!skip_latency) {
    nlohmann::ordered_json line{{"workload", "cluster-latency"}};
    line.update(LatencyWorkload(deployment, latency).measure());
    lines.push_back(std::move(line));
  }
  auto described = deployment.describe();
  auto ended = deployment.stop();
  for (auto& line : lines) {
    line["deployment"] = described;
    line["node_exit"] = ended;
  }
  return lines;
}

}  // namespace switchboard::bench
