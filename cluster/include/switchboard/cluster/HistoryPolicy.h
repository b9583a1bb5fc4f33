#pragma once
// How much of each room's history the broker keeps: a number of messages and a time to live, by
// default and per room-name prefix (the longest matching prefix wins). A size of 0 keeps no
// history for those rooms: their messages are still numbered, but cannot be recovered.
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::cluster {

struct HistoryLimits {
  std::size_t size = 100;  // messages kept per room
  std::chrono::seconds ttl{300};  // how long a message is kept
};

class HistoryPolicy {
 public:
  HistoryPolicy() = default;
  explicit HistoryPolicy(HistoryLimits defaults, std::vector<std::pair<std::string, HistoryLimits>> by_prefix = {});

  // Rules as JSON: {"<prefix>": {"size": N, "ttl": seconds}, …}; a rule's missing field takes the
  // default. Throws std::invalid_argument with a readable message on anything else.
  static HistoryPolicy parse(HistoryLimits defaults, std::string_view rules_json);

  const HistoryLimits& limits_for(std::string_view room) const;
  // The longest time to live of any rule: how long a room's numbering must outlive its messages.
  std::chrono::seconds longest_ttl() const;

 private:
  HistoryLimits defaults_;
  std::vector<std::pair<std::string, HistoryLimits>> by_prefix_;  // longest prefix first
};

// The largest history size a rule may set.
inline constexpr std::size_t kMaxHistorySize = 100000;

}  // namespace switchboard::cluster
