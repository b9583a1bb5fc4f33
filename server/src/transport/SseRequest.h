#pragma once
// What a GET /sse request asks for: its rooms (?rooms=a,b; none is allowed), which of them also stream presence
// events (?presence=a), and where each room resumes (the Last-Event-ID header, or the
// ?last_event_id= parameter for clients that cannot set headers on a first connection).
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "switchboard/protocol/StreamPosition.h"

namespace switchboard::server {

struct SseRequest {
  struct Room {
    std::string name;
    bool presence = false;
    std::optional<protocol::StreamPosition> since;  // resume after this position
  };
  std::vector<Room> rooms;

  // The request, or the message of the 400 to answer. `last_event_id`: the header's value
  // (empty when absent). Rooms past --max-rooms are not refused here: each is answered
  // `unsubscribed` with too_many_rooms on the stream, as a WebSocket subscribe would be.
  static std::variant<SseRequest, std::string> parse(std::string_view target, std::string_view last_event_id);
};

}  // namespace switchboard::server
