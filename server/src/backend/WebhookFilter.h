#pragma once
// Which events go to the webhooks (--webhook-events): a comma-separated list of kinds, each
// optionally restricted to rooms by `@pattern` (a room's name, or a prefix ending in `*`), e.g.
//   member_added@chat:*,member_removed@chat:*,message_published@orders:*,connection_closed
// A kind may be listed several times, one pattern each. Empty: every kind, every room.
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backend/RoomPatterns.h"

namespace switchboard::server {

enum class WebhookKind {
  room_occupied,
  room_vacated,
  member_added,
  member_removed,
  connection_opened,
  connection_closed,
  message_published,
};
inline constexpr std::size_t kWebhookKindCount = 7;

class WebhookFilter {
 public:
  // Throws std::invalid_argument saying what is wrong. `clustered`: the node is part of a cluster.
  static WebhookFilter parse(std::string_view spec, bool clustered);

  // Whether an event of `kind` about `room` (empty for the connection events) is wanted.
  bool wants(WebhookKind kind, std::string_view room = {}) const;
  // Whether any event of `kind` may be wanted (whatever its room).
  bool any(WebhookKind kind) const { return !rooms_[index(kind)].empty(); }

  static std::string_view name(WebhookKind kind);
  static std::optional<WebhookKind> kind_named(std::string_view name);
  // The kinds about a room's members across the cluster (room_occupied, room_vacated,
  // member_added, member_removed): in a cluster, told by the presence store once for the
  // cluster (Webhooks::member_changed), not from the presence events every node hears.
  static bool cluster_wide(WebhookKind kind);

 private:
  static std::size_t index(WebhookKind kind) { return static_cast<std::size_t>(kind); }
  // Per kind, the rooms it is wanted for (none: the kind is not wanted).
  std::array<RoomPatterns, kWebhookKindCount> rooms_;
};

}  // namespace switchboard::server
