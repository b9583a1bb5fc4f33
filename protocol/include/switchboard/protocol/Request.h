#pragma once
// A client request: one JSON object per text frame, parsed and validated.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>

#include "switchboard/protocol/ErrorCode.h"
#include "switchboard/protocol/RoomName.h"

namespace switchboard::protocol {

enum class Op { subscribe, unsubscribe, publish, presence, ping };

struct Request {
  Op op = Op::ping;
  nlohmann::json id;      // null when the request has no id (then success is silent)
  std::string room;       // subscribe, unsubscribe, publish, presence
  bool presence = false;  // subscribe: also receive join/leave events
  nlohmann::json data;    // publish: any JSON value
};

struct RequestError {
  ErrorCode code;
  std::string message;
  nlohmann::json id;  // the request's id when it could be read, else null
};

using ParseResult = std::variant<Request, RequestError>;

// Parses and validates one text frame. Never throws.
ParseResult parse_request(std::string_view text);

}  // namespace switchboard::protocol
