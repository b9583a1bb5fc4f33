#include "switchboard/cluster/HistoryPolicy.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace switchboard::cluster {

namespace {
void check(const HistoryLimits& limits, const std::string& where) {
  if (limits.size > kMaxHistorySize)
    throw std::invalid_argument(where + ": size must be at most " + std::to_string(kMaxHistorySize));
  if (limits.ttl.count() < 1) throw std::invalid_argument(where + ": ttl must be at least 1 second");
}
}  // namespace

HistoryPolicy::HistoryPolicy(HistoryLimits defaults, std::vector<std::pair<std::string, HistoryLimits>> by_prefix)
    : defaults_(defaults), by_prefix_(std::move(by_prefix)) {
  check(defaults_, "history");
  for (const auto& [prefix, limits] : by_prefix_) check(limits, "history rule \"" + prefix + "\"");
  std::stable_sort(by_prefix_.begin(), by_prefix_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

HistoryPolicy HistoryPolicy::parse(HistoryLimits defaults, std::string_view rules_json) {
  std::vector<std::pair<std::string, HistoryLimits>> rules;
  if (!rules_json.empty()) {
    auto doc = nlohmann::json::parse(rules_json.begin(), rules_json.end(), nullptr, false);
    if (!doc.is_object())
      throw std::invalid_argument(R"(history rules are a JSON object: {"<room prefix>":{"size":N,"ttl":seconds},…})");
    for (const auto& [prefix, rule] : doc.items()) {
      std::string where = "history rule \"" + prefix + "\"";
      if (!rule.is_object()) throw std::invalid_argument(where + R"( must be an object {"size":N,"ttl":seconds})");
      HistoryLimits limits = defaults;
      for (const auto& [key, value] : rule.items()) {
        if (!value.is_number_unsigned())
          throw std::invalid_argument(where + ": " + key + " must be a non-negative integer");
        if (key == "size") limits.size = value.get<std::size_t>();
        else if (key == "ttl") limits.ttl = std::chrono::seconds(value.get<std::int64_t>());
        else throw std::invalid_argument(where + ": unknown field " + key + " (size, ttl)");
      }
      rules.emplace_back(prefix, limits);
    }
  }
  return HistoryPolicy(defaults, std::move(rules));
}

const HistoryLimits& HistoryPolicy::limits_for(std::string_view room) const {
  for (const auto& [prefix, limits] : by_prefix_)
    if (room.substr(0, prefix.size()) == prefix) return limits;
  return defaults_;
}

std::chrono::seconds HistoryPolicy::longest_ttl() const {
  auto longest = defaults_.ttl;
  for (const auto& [prefix, limits] : by_prefix_) longest = std::max(longest, limits.ttl);
  return longest;
}

}  // namespace switchboard::cluster
