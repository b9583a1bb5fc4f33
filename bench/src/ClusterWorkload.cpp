#include "ClusterWorkload.h"

#include "Deployment.h"
#include "FanoutWorkload.h"
#include "LatencyWorkload.h"
#include "PublishWorkload.h"

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
  PublishWorkload::Params publish;
  publish.publishers = options.size("publish-publishers", 8);
  publish.rooms = options.size("publish-rooms", 64);
  publish.window = options.size("publish-window", 32);
  publish.seconds = options.number("publish-seconds", 5);
  publish.payload_bytes = fanout.payload_bytes;
  // With any of the --*-only flags, only the lines they name; all three otherwise.
  const bool fanout_only = options.flag("fanout-only"), latency_only = options.flag("latency-only"),
             publish_only = options.flag("publish-only");
  const bool all = !fanout_only && !latency_only && !publish_only;
  Deployment deployment(options);
  options.reject_unknown();
  deployment.start(nodes);

  std::vector<nlohmann::ordered_json> lines;
  if (all || fanout_only) {
    nlohmann::ordered_json line{{"workload", "cluster-fanout"}};
    line.update(FanoutWorkload(deployment, fanout).measure());
    lines.push_back(std::move(line));
  }
  if (all || latency_only) {
    nlohmann::ordered_json line{{"workload", "cluster-latency"}};
    line.update(LatencyWorkload(deployment, latency).measure());
    lines.push_back(std::move(line));
  }
  if (all || publish_only) {
    nlohmann::ordered_json line{{"workload", "cluster-publish"}};
    line.update(PublishWorkload(deployment, publish).measure());
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
