#include "transport/SseRequest.h"

#include <algorithm>

#include "http/HttpRoutes.h"
#include "switchboard/protocol/EventId.h"
#include "switchboard/protocol/RoomName.h"

namespace switchboard::server {

namespace {

std::vector<std::string> split(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    auto comma = list.find(',');
    out.emplace_back(list.substr(0, comma));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
    if (list.empty()) out.emplace_back();  // a trailing comma: an empty name, refused below
  }
  return out;
}

}  // namespace

std::variant<SseRequest, std::string> SseRequest::parse(std::string_view target, std::string_view last_event_id) {
  // No rooms is a stream too: it carries keep-alives and the node's refresh and close events.
  auto rooms = HttpRoutes::query_parameter(target, "rooms").value_or("");
  SseRequest req;
  for (auto& name : split(rooms)) {
    if (!protocol::is_valid_room_name(name))
      return "bad room name '" + name.substr(0, 200) + "': " + protocol::kRoomNameRule;
    if (std::any_of(req.rooms.begin(), req.rooms.end(), [&](const Room& r) { return r.name == name; }))
      return "room " + name + " is named twice";
    req.rooms.push_back({std::move(name), false, std::nullopt});
  }
  if (auto presence = HttpRoutes::query_parameter(target, "presence"); presence && !presence->empty()) {
    for (const auto& name : split(*presence)) {
      auto it = std::find_if(req.rooms.begin(), req.rooms.end(), [&](const Room& r) { return r.name == name; });
      if (it == req.rooms.end()) return "presence names a room that rooms does not: " + name.substr(0, 200);
      it->presence = true;
    }
  }
  std::optional<std::string> from_query;
  if (last_event_id.empty()) {
    from_query = HttpRoutes::query_parameter(target, "last_event_id");
    if (from_query) last_event_id = *from_query;
  }
  auto positions = protocol::parse_event_id(last_event_id);
  if (!positions) return std::string("Last-Event-ID is not an event id of this node: room=offset.epoch[,…]");
  // Rooms of the id that the stream no longer asks for are ignored.
  for (auto& entry : *positions) {
    const auto& name = entry.first;
    auto it = std::find_if(req.rooms.begin(), req.rooms.end(), [&](const Room& r) { return r.name == name; });
    if (it != req.rooms.end()) it->since = std::move(entry.second);
  }
  return req;
}

}  // namespace switchboard::server
