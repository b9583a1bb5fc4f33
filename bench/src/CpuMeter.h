// The CPU time the nodes, Redis and this client process spend over a measurement, the
// nodes' figures at its start and end, and the commands Redis ran meanwhile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "Deployment.h"
#include "ProcStats.h"
#include "RedisCommand.h"

namespace switchboard::bench {

class CpuMeter {
 public:
  // Takes the figures at the start.
  explicit CpuMeter(Deployment& deployment);
  // Takes the figures at the end.
  void stop();

  // "node_cpu_us", "node_cpu_us_per_delivery" (over `deliveries`), "node_cpu_util",
  // "node_sys_us_per_delivery" and "node_sys_share" (the kernel's part of the node's CPU), "redis_cpu_us"
  // (with Redis; summed over the masters of a Redis Cluster, and "redis_cpu_us_per_master" then)
  // and "client_cpu_util", over `elapsed_s`; the utilisations rounded to 1/util_scale. With Redis,
  // "redis_commands": per command run during the measurement (all masters), its calls and µs
  // (INFO commandstats: a script's commands are counted apart and within the script's µs too).
  void report(nlohmann::ordered_json& out, double elapsed_s, std::size_t deliveries, double util_scale) const;

  const ProcStats& node_before() const { return node_before_; }
  const ProcStats& node_after() const { return node_after_; }
  std::int64_t node_cpu_us() const { return node_after_.cpu_us - node_before_.cpu_us; }
  // Redis's CPU µs over the measurement: in all, and per master (one entry for a plain redis-server).
  std::int64_t redis_cpu_us() const;
  std::vector<std::int64_t> redis_cpu_us_per_master() const;

 private:
  // INFO commandstats summed over the masters.
  static std::map<std::string, RedisCommandStat> command_stats(const Deployment& deployment);

  Deployment& deployment_;
  // Read before the CPU times at the start, after them at the end: outside the measurement.
  std::map<std::string, RedisCommandStat> commands_before_, commands_after_;
  ProcStats node_before_, node_after_;
  std::vector<ProcStats> redis_before_, redis_after_;
  std::int64_t client_before_us_ = 0, client_us_ = 0;
};

}  // namespace switchboard::bench
