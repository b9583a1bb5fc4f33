// switchboard-bench: the load generator. Starts the node(s) under test itself, pinned to CPU 0,
// runs the client on CPU 1, and prints one JSON line per run. See bench/README.md.
#include <ctime>
#include <iostream>
#include <map>
#include <string>

#include "BenchClient.h"
#include "ChurnWorkload.h"
#include "ClusterWorkload.h"
#include "ConnectionsWorkload.h"
#include "Deployment.h"
#include "FanoutWorkload.h"
#include "Host.h"
#include "IdleWorkload.h"
#include "LatencyWorkload.h"
#include "Options.h"
#include "SoakWorkload.h"

using namespace switchboard::bench;

namespace {

constexpr const char* kUsage = R"(Usage: switchboard-bench <workload> [--flag value …]

Workloads (defaults in brackets):
  idle         --connections 5000 --rooms 500 --quiet-ms 3000
  fanout       --subscribers 1000 --messages 5000 --payload 64 --window 100
  latency      --subscribers 200 --rooms 10 --publishers 10 --rate 1000 --seconds 10 --warmup 1
  connections  --connections 19000 --rooms 190 --messages-per-room 3
  cluster      --nodes 2 --fanout-subscribers 1000 --fanout-messages 5000 --latency-subscribers 200
               --rooms 10 --rate 1000 --seconds 10 --publish-publishers 8 --publish-rooms 64
               --publish-window 32 --publish-seconds 5 [--fanout-only] [--latency-only] [--publish-only]
               (three lines: cluster-fanout, cluster-latency, cluster-publish; the --*-only flags
               pick some of them)
  churn        --rate 1000 --seconds 10 --rounds 2 --max-in-flight 1000
  soak         --connections 10000 --warmup-connections 1000 --rate 200 --max-in-flight 100
               --drop-fraction 0.2 --hold-ms 1000 --witnesses 20 --rooms 4 --publish-rate 200
               --payload 64 --quiet-ms 1000 --settle-ms 10000
               (exit status 3 when lost/duplicated/reordered messages, leaked fds, a dead node or an
               incomplete run: see "problems")

Common flags:
  --node PATH           the switchboard executable [../server/switchboard next to this binary]
  --node-cpu N          CPU the node(s) and redis-server are pinned to [0]; -1: not pinned
  --client-cpu N        CPU this process is pinned to [1]; -1: not pinned
  --node-threads N      the node's --threads [1]
  --node-arg ARG        one more argument for the node (repeatable)
  --deflate             the clients offer permessage-deflate and inflate what comes compressed
                        (the node compresses from its --deflate-threshold, 1024 bytes: pair with
                        --payload 2048, say)
  --node-wrapper "CMD"  run the node under CMD, e.g. "valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out"
  --redis-server PATH   for cluster [redis-server]
  --redis-replica       for cluster: a replica of that Redis too (pinned with it), e.g. with
                        --node-arg=--redis-wait-replicas --node-arg=1
  --redis-cluster-masters N
                        for cluster: a Redis Cluster of N masters (no replicas) instead of one
                        redis-server, every master pinned with the nodes; the nodes join it
                        with --redis-cluster (sharded pub/sub)
  --redis-cli PATH      forms a Redis Cluster of 3 masters or more [redis-cli]
  --log-dir DIR         where the node and Redis logs go [/tmp/switchboard-bench-<pid>]
  --broker NAME         switchboard, or nats: idle, fanout and latency against a nats-server on
                        its WebSocket listener, pinned like the node, the clients speaking NATS
                        (SUB, PUB + PING, MSG) with the same payloads [switchboard]
  --nats-server PATH    with --broker nats [nats-server]; --node-threads sets its GOMAXPROCS,
                        --node-arg adds arguments to it
)";

// The workloads that print one JSON line.
const std::map<std::string, nlohmann::ordered_json (*)(Options&)> kOneLine{
    {"idle", &Deployment::run_one_node<IdleWorkload>},
    {"fanout", &Deployment::run_one_node<FanoutWorkload>},
    {"latency", &Deployment::run_one_node<LatencyWorkload>},
    {"connections", &Deployment::run_one_node<ConnectionsWorkload>},
    {"churn", &Deployment::run_one_node<ChurnWorkload>},
    {"soak", &Deployment::run_one_node<SoakWorkload>}};

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

}  // namespace

int main(int argc, char* argv[]) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  const std::string workload = argv[1];
  try {
    Options options(argc, argv, 2);
    const auto client_cpu = static_cast<int>(options.integer("client-cpu", 1));
    BenchClient::offer_deflate = options.flag("deflate");
    nlohmann::ordered_json client{{"cpu", client_cpu},
                                  {"pinned", client_cpu >= 0 && Host::pin_to_cpu(client_cpu)}};
    client["fd_limit"] = Host::raise_fd_limit();
    const std::string started = utc_now();

    std::vector<nlohmann::ordered_json> results;
    if (options.text("broker", "switchboard") == "nats" && workload != "idle" && workload != "fanout" &&
        workload != "latency") {
      std::cerr << "switchboard-bench " << workload << ": --broker nats runs idle, fanout and latency only\n";
      return 2;
    }
    if (auto it = kOneLine.find(workload); it != kOneLine.end())
      results.push_back(it->second(options));
    else if (workload == "cluster")
      results = ClusterWorkload::run(options);
    else {
      std::cerr << "unknown workload " << workload << "\n\n" << kUsage;
      return 2;
    }

    int status = 0;
    for (auto& result : results) {
      if (result.contains("passed") && !result["passed"].get<bool>()) status = 3;
      nlohmann::ordered_json line{{"workload", result.value("workload", workload)}, {"date", started}};
      line["params"] = options.used();
      for (auto& [key, value] : result.items())
        if (key != "workload") line[key] = value;
      line["client"] = client;
      line["host"] = Host::describe();
      std::cout << line.dump() << std::endl;
    }
    if (status != 0) return status;
  } catch (const std::exception& e) {
    std::cerr << "switchboard-bench " << workload << ": " << e.what() << '\n';
    return 1;
  }
  return 0;
}
