#include "backend/WebhookFilter.h"

#include <stdexcept>

namespace switchboard::server {

namespace {
constexpr std::string_view kNames[kWebhookKindCount] = {
    "room_occupied",     "room_vacated",      "member_added",      "member_removed",
    "connection_opened", "connection_closed", "message_published",
};

bool is_room_kind(WebhookKind kind) {
  return kind != WebhookKind::connection_opened && kind != WebhookKind::connection_closed;
}
}  // namespace

std::string_view WebhookFilter::name(WebhookKind kind) { return kNames[index(kind)]; }

std::optional<WebhookKind> WebhookFilter::kind_named(std::string_view name) {
  for (std::size_t i = 0; i < kWebhookKindCount; ++i)
    if (kNames[i] == name) return static_cast<WebhookKind>(i);
  return std::nullopt;
}

bool WebhookFilter::cluster_wide(WebhookKind kind) {
  return kind == WebhookKind::room_occupied || kind == WebhookKind::room_vacated ||
         kind == WebhookKind::member_added || kind == WebhookKind::member_removed;
}

WebhookFilter WebhookFilter::parse(std::string_view spec, bool clustered) {
  WebhookFilter filter;
  (void)clustered;  // every kind is sent once for the cluster (see Webhooks::member_changed)
  if (RoomPatterns::trimmed(spec).empty()) {
    for (auto& rooms : filter.rooms_) rooms = RoomPatterns::all();
    return filter;
  }
  std::string_view rest = spec;
  while (true) {
    auto comma = rest.find(',');
    std::string_view entry = RoomPatterns::trimmed(rest.substr(0, comma));
    auto at = entry.find('@');
    std::string_view kind_name = RoomPatterns::trimmed(entry.substr(0, at));
    auto kind = kind_named(kind_name);
    if (!kind)
      throw std::invalid_argument("--webhook-events: unknown event \"" + std::string(kind_name) +
                                  "\"; the events are room_occupied, room_vacated, member_added, member_removed, "
                                  "connection_opened, connection_closed, message_published");
    std::string pattern = "*";
    if (at != std::string_view::npos) {
      pattern = std::string(RoomPatterns::trimmed(entry.substr(at + 1)));
      if (pattern.empty()) throw std::invalid_argument("--webhook-events: " + std::string(kind_name) + "@ names no room");
      if (!is_room_kind(*kind))
        throw std::invalid_argument("--webhook-events: " + std::string(kind_name) + " is about no room: give it no @pattern");
    }
    filter.rooms_[index(*kind)].add(std::move(pattern), "--webhook-events");
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return filter;
}

bool WebhookFilter::wants(WebhookKind kind, std::string_view room) const { return rooms_[index(kind)].matches(room); }

}  // namespace switchboard::server
