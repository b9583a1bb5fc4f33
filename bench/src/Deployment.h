// What a workload runs against: one node, or a cluster of nodes sharing a redis-server, all
// started by the benchmark and stopped at the end. Figures are summed over the nodes.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "NodeProcess.h"
#include "Options.h"
#include "RedisProcess.h"

namespace switchboard::bench {

class Deployment {
 public:
  // Reads the node flags: --node PATH, --node-cpu N, --node-threads N, --node-arg ARG (repeatable),
  // --node-wrapper "valgrind --tool=callgrind …", --redis-server PATH, --redis-replica, --log-dir DIR.
  explicit Deployment(Options& options);
  ~Deployment();

  // The run of a workload on one node: rejects unknown flags (a workload reads its own flags
  // first), starts the node, measures, and adds "deployment" and "node_exit" to the report.
  static nlohmann::ordered_json with_one_node(
      Options& options, const std::function<nlohmann::ordered_json(Deployment&)>& measure);
  // with_one_node for a Workload with Workload::Params(Options&), Workload(Deployment&, const
  // Params&) and measure(): its flags, then the node's, then one run.
  template <class Workload>
  static nlohmann::ordered_json run_one_node(Options& options) {
    const typename Workload::Params params(options);
    return with_one_node(options,
                         [&](Deployment& deployment) { return Workload(deployment, params).measure(); });
  }

  // Starts `nodes` nodes; with more than one, a redis-server first and every node joins it.
  void start(int nodes);
  // Stops everything; returns how each process ended.
  nlohmann::ordered_json stop();

  // Stops everything and adds "deployment" (describe()) and "node_exit" (how each process ended) to `out`.
  void finish(nlohmann::ordered_json& out);

  std::size_t size() const { return nodes_.size(); }
  NodeProcess& node(std::size_t i) { return *nodes_[i]; }
  boost::asio::ip::tcp::endpoint endpoint(std::size_t i) const;
  // CPU µs and RSS KiB summed over the nodes (not Redis).
  ProcStats stats() const;
  ProcStats redis_stats() const;
  // stats() after half a second of rest: the baseline of a node just started.
  ProcStats settled_stats() const;
  bool has_redis() const { return redis_ != nullptr; }
  // False if a node has exited.
  bool alive();
  // A metric summed over the nodes.
  double metric(const std::string& name) const;
  // Selected /metrics counters of all nodes, summed, for the report.
  nlohmann::ordered_json metrics_report() const;
  nlohmann::ordered_json describe() const;

 private:
  std::string executable_;
  std::vector<std::string> wrapper_, extra_args_;
  int cpu_, threads_;
  std::string redis_executable_, log_dir_;
  std::unique_ptr<RedisProcess> redis_;
  bool with_replica_ = false;
  std::unique_ptr<RedisProcess> replica_;  // with --redis-replica
  std::vector<std::unique_ptr<NodeProcess>> nodes_;
};

}  // namespace switchboard::bench
