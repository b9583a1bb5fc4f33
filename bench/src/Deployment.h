// What a workload runs against: one node, or a cluster of nodes sharing a redis-server (or a
// Redis Cluster of N masters, with --redis-cluster-masters N), all started by the benchmark and
// stopped at the end. Figures are summed over the nodes.
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
#include "RedisShards.h"

namespace switchboard::bench {

class Deployment {
 public:
  // Reads the node flags: --broker switchboard|nats (nats: a nats-server, --nats-server PATH, in
  // the node's place, one only), --node PATH, --node-cpu N, --node-threads N, --node-arg ARG (repeatable),
  // --node-wrapper "valgrind --tool=callgrind …", --redis-server PATH, --redis-replica,
  // --redis-cluster-masters N, --redis-cli PATH, --log-dir DIR.
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

  // Starts `nodes` nodes; with more than one, a redis-server first and every node joins it (or
  // a Redis Cluster, which every node joins with --redis-cluster).
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
  // Redis's CPU µs and RSS KiB: of the one redis-server, or summed over the cluster's masters.
  ProcStats redis_stats() const;
  // Per master of the Redis Cluster; the one redis-server alone otherwise (empty without Redis).
  std::vector<ProcStats> redis_stats_per_master() const;
  // The ports of the Redis masters: the cluster's, or the one redis-server (not its replica).
  std::vector<std::uint16_t> redis_ports() const;
  // The number of Redis Cluster masters, 0 with a plain redis-server (or none).
  std::size_t redis_masters() const { return shards_ ? shards_->size() : 0; }
  // The master that owns `room` (0 without a Redis Cluster).
  std::size_t redis_master_of_room(const std::string& room) const {
    return shards_ ? shards_->master_of_room(room) : 0;
  }
  // stats() after half a second of rest: the baseline of a node just started.
  ProcStats settled_stats() const;
  // The brokers under test are nats-servers (--broker nats): clients speak NATS.
  bool nats() const { return nats_; }
  bool has_redis() const { return redis_ != nullptr || shards_ != nullptr; }
  // False if a node has exited.
  bool alive();
  // A metric summed over the nodes.
  double metric(const std::string& name) const;
  // Selected /metrics counters of all nodes, summed, for the report.
  nlohmann::ordered_json metrics_report() const;
  nlohmann::ordered_json describe() const;

 private:
  bool nats_ = false;
  std::string executable_;
  std::vector<std::string> wrapper_, extra_args_;
  int cpu_, threads_;
  std::string redis_executable_;
  bool with_replica_ = false;
  std::size_t cluster_masters_ = 0;  // --redis-cluster-masters
  std::string redis_cli_, log_dir_;
  std::unique_ptr<RedisProcess> redis_;
  std::unique_ptr<RedisShards> shards_;  // with --redis-cluster-masters
  std::unique_ptr<RedisProcess> replica_;  // with --redis-replica
  std::vector<std::unique_ptr<NodeProcess>> nodes_;
};

}  // namespace switchboard::bench
