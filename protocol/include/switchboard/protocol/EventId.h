#pragma once
// The id of a Server-Sent Event of a /sse stream: where each of the stream's rooms stands, so
// that a client reconnecting with it as Last-Event-ID resumes every room where it left off.
//
//   chat:lobby=42.9f2c…,news=7.1a0b….3
//
// One entry per room, separated by commas: the room name, '=', the offset of the room's last
// message sent, '.', and the room's epoch. Room names hold no '=' nor ','; epochs hold no ','.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "switchboard/protocol/StreamPosition.h"

namespace switchboard::protocol {

using RoomPositions = std::vector<std::pair<std::string, StreamPosition>>;

// Rooms with an empty epoch (no position yet) are left out.
std::string format_event_id(const RoomPositions& positions);

// nullopt when `id` is not in the format above: a bad room name, offset or epoch, or a room
// named twice. An empty id is an empty list.
std::optional<RoomPositions> parse_event_id(std::string_view id);

}  // namespace switchboard::protocol
