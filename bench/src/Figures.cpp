#include "Figures.h"

namespace switchboard::bench {

nlohmann::ordered_json Figures::counts(const std::map<std::string, std::size_t>& by_reason) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& [reason, n] : by_reason) out[reason] = n;
  return out;
}

void Figures::connection_cost(nlohmann::ordered_json& out, const ProcStats& baseline, const ProcStats& opened,
                              const std::string& later_name, const ProcStats& later,
                              std::size_t connections) {
  const auto n = static_cast<double>(connections);
  out["node_rss_kib_baseline"] = baseline.rss_kib;
  out["node_rss_kib_opened"] = opened.rss_kib;
  out["node_rss_kib_" + later_name] = later.rss_kib;
  out["kib_per_connection"] = rounded(static_cast<double>(later.rss_kib - baseline.rss_kib) / n, 100);
  out["node_cpu_us_per_connection_open"] =
      rounded(static_cast<double>(opened.cpu_us - baseline.cpu_us) / n, 10);
}

}  // namespace switchboard::bench
