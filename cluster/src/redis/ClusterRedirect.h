#pragma once
// A Redis Cluster's redirection, read from an error reply: "MOVED <slot> <endpoint>:<port>"
// (the slot is served there now: the slot map is out of date) or "ASK <slot> <endpoint>:<port>"
// (this one command goes there, after ASKING, while the slot migrates; the map stays).
// An empty endpoint means the node that answered; "?" means it has none usable.
#include <cstdint>
#include <optional>
#include <string_view>

#include "redis/SlotMap.h"

namespace switchboard::cluster {

struct ClusterRedirect {
  enum class Kind { moved, ask };
  Kind kind;
  std::uint16_t slot;
  SlotMap::Node to;

  // nullopt when `error` is no redirection, or one without a usable endpoint.
  static std::optional<ClusterRedirect> parse(std::string_view error, std::string_view asked_host);
};

}  // namespace switchboard::cluster
