#include "CpuMeter.h"

#include "Figures.h"

namespace switchboard::bench {

CpuMeter::CpuMeter(Deployment& deployment)
    : deployment_(deployment),
      commands_before_(command_stats(deployment)),
      node_before_(deployment.stats()),
      redis_before_(deployment.redis_stats_per_master()),
      client_before_us_(ProcStats::self_cpu_us()) {}

void CpuMeter::stop() {
  node_after_ = deployment_.stats();
  redis_after_ = deployment_.redis_stats_per_master();
  commands_after_ = command_stats(deployment_);
  client_us_ = ProcStats::self_cpu_us() - client_before_us_;
}

std::map<std::string, RedisCommandStat> CpuMeter::command_stats(const Deployment& deployment) {
  std::map<std::string, RedisCommandStat> sum;
  for (auto port : deployment.redis_ports())
    for (const auto& [name, stat] : redis_command_stats(port)) {
      sum[name].calls += stat.calls;
      sum[name].usec += stat.usec;
    }
  return sum;
}

std::vector<std::int64_t> CpuMeter::redis_cpu_us_per_master() const {
  std::vector<std::int64_t> used;
  for (std::size_t i = 0; i < redis_after_.size() && i < redis_before_.size(); ++i)
    used.push_back(redis_after_[i].cpu_us - redis_before_[i].cpu_us);
  return used;
}

std::int64_t CpuMeter::redis_cpu_us() const {
  std::int64_t sum = 0;
  for (auto used : redis_cpu_us_per_master()) sum += used;
  return sum;
}

void CpuMeter::report(nlohmann::ordered_json& out, double elapsed_s, std::size_t deliveries,
                      double util_scale) const {
  const double node_cpu = static_cast<double>(node_after_.cpu_us - node_before_.cpu_us);
  out["node_cpu_us"] = node_cpu;
  out["node_cpu_us_per_delivery"] =
      deliveries ? Figures::rounded(node_cpu / static_cast<double>(deliveries), 1000) : 0.0;
  out["node_cpu_util"] = Figures::rounded(node_cpu / (elapsed_s * 1e6), util_scale);
  // The kernel's part: on loopback, a send also runs the receiving socket's path (the client's),
  // billed to the sender.
  const double node_sys = static_cast<double>(node_after_.sys_us - node_before_.sys_us);
  out["node_sys_us_per_delivery"] =
      deliveries ? Figures::rounded(node_sys / static_cast<double>(deliveries), 1000) : 0.0;
  out["node_sys_share"] = node_cpu > 0 ? Figures::rounded(node_sys / node_cpu, 100) : 0.0;
  if (deployment_.has_redis()) out["redis_cpu_us"] = redis_cpu_us();
  if (deployment_.redis_masters() > 0) out["redis_cpu_us_per_master"] = redis_cpu_us_per_master();
  if (deployment_.has_redis()) {
    nlohmann::ordered_json commands = nlohmann::ordered_json::object();
    for (const auto& [name, after] : commands_after_) {
      RedisCommandStat before;
      if (auto it = commands_before_.find(name); it != commands_before_.end()) before = it->second;
      // The meter's own INFO is left out.
      if (after.calls == before.calls || name == "info") continue;
      commands[name] = {{"calls", after.calls - before.calls}, {"usec", after.usec - before.usec}};
    }
    out["redis_commands"] = commands;
  }
  out["client_cpu_util"] = Figures::rounded(static_cast<double>(client_us_) / (elapsed_s * 1e6), util_scale);
}

}  // namespace switchboard::bench
