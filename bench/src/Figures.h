// Small pieces of a run's report: rounding, counts by reason, the node's cost per connection.
#pragma once

#include <cmath>
#include <cstddef>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "ProcStats.h"

namespace switchboard::bench {

class Figures {
 public:
  // `x` rounded to a multiple of 1/scale (scale 100: two decimals).
  static double rounded(double x, double scale) { return std::round(x * scale) / scale; }
  // Counts by reason (errors, close codes…), as a JSON object.
  static nlohmann::ordered_json counts(const std::map<std::string, std::size_t>& by_reason);
  // What `connections` cost the node: "node_rss_kib_baseline", "node_rss_kib_opened",
  // "node_rss_kib_<later_name>", "kib_per_connection" (from the baseline to `later`) and
  // "node_cpu_us_per_connection_open" (from the baseline to `opened`).
  static void connection_cost(nlohmann::ordered_json& out, const ProcStats& baseline, const ProcStats& opened,
                              const std::string& later_name, const ProcStats& later, std::size_t connections);
};

}  // namespace switchboard::bench
