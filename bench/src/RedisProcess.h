// A throw-away redis-server for the cluster workload: 127.0.0.1 only, no persistence; a plain
// one, a replica of one, or a node of a Redis Cluster (cluster_node()).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "ProcStats.h"

namespace switchboard::bench {

class RedisProcess {
 public:
  // With `replica_of` (a port), a replica of that redis-server.
  RedisProcess(std::string executable, int cpu, std::string log_path, std::uint16_t replica_of = 0);
  ~RedisProcess();
  RedisProcess(const RedisProcess&) = delete;
  RedisProcess& operator=(const RedisProcess&) = delete;

  // Before start(): a Redis Cluster node (--cluster-enabled yes), its cluster state in
  // <config_dir>/nodes-<port>.conf (removed first), its cluster bus on a free port too. Joined
  // to the others by RedisShards.
  void cluster_node(std::string config_dir) { cluster_dir_ = std::move(config_dir); }

  // Starts it on a free port and waits until it answers PING (a replica: until it is in sync);
  // throws on failure.
  void start();
  std::string stop();

  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  std::uint16_t port() const { return port_; }
  std::uint16_t bus_port() const { return bus_port_; }  // a Redis Cluster node's cluster bus
  pid_t pid() const { return pid_; }
  ProcStats stats() const { return ProcStats::of(pid_); }

 private:
  bool answers_ping() const;
  bool in_sync() const;

  std::string executable_;
  int cpu_;
  std::string log_path_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::uint16_t replica_of_ = 0;
  std::string cluster_dir_;
  std::uint16_t bus_port_ = 0;
  bool stopped_ = false;
};

}  // namespace switchboard::bench
