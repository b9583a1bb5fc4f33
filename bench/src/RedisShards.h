// A Redis Cluster of N masters (no replicas) for the cluster workload: N cluster-enabled
// redis-servers on free loopback ports, pinned like the plain Redis, joined into one cluster
// (`redis-cli --cluster create` for 3 masters or more, which refuses fewer; CLUSTER ADDSLOTSRANGE
// and CLUSTER MEET below that), ready once every master says cluster_state:ok. Stopped, all of
// them, by stop() or the destructor, whatever happened before.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ProcStats.h"
#include "RedisProcess.h"

namespace switchboard::bench {

class RedisShards {
 public:
  // `redis_cli` forms clusters of 3 masters or more; logs and nodes-<port>.conf go in `log_dir`.
  RedisShards(std::string executable, std::string redis_cli, int cpu, std::string log_dir, std::size_t masters);
  ~RedisShards();
  RedisShards(const RedisShards&) = delete;
  RedisShards& operator=(const RedisShards&) = delete;

  // Starts the masters, forms the cluster and waits until it is healthy; throws on failure (the
  // masters started so far are stopped by stop() or the destructor).
  void start();
  // Stops every master; how each ended.
  std::vector<std::string> stop();

  std::size_t size() const { return masters_.size(); }
  // "redis://127.0.0.1:p1,127.0.0.1:p2,…": the seeds for the node's --redis-cluster.
  std::string seeds() const;
  std::vector<std::uint16_t> ports() const;
  // CPU and RSS of each master.
  std::vector<ProcStats> stats() const;
  // The master that owns the slot of `room`'s hash tag ({room}), as the cluster says
  // (CLUSTER KEYSLOT, and the slot ranges of CLUSTER NODES read once the cluster was formed).
  std::size_t master_of_room(const std::string& room) const;

 private:
  void form();
  // An empty string when every master says cluster_state:ok and knows every other; else why not.
  std::string unhealthy() const;
  void read_slot_ranges();

  std::string executable_, redis_cli_;
  int cpu_;
  std::string log_dir_;
  std::size_t wanted_;
  std::vector<std::unique_ptr<RedisProcess>> masters_;
  // Slot ranges [first, last] and the master (index into masters_) serving them.
  std::vector<std::pair<std::pair<int, int>, std::size_t>> slots_;
};

}  // namespace switchboard::bench
