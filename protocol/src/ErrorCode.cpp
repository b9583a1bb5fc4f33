#include "switchboard/protocol/ErrorCode.h"

namespace switchboard::protocol {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::bad_json: return "bad_json";
    case ErrorCode::bad_request: return "bad_request";
    case ErrorCode::unknown_op: return "unknown_op";
    case ErrorCode::bad_room: return "bad_room";
    case ErrorCode::not_subscribed: return "not_subscribed";
    case ErrorCode::too_many_rooms: return "too_many_rooms";
    case ErrorCode::forbidden: return "forbidden";
    case ErrorCode::bad_token: return "bad_token";
    case ErrorCode::rate_limited: return "rate_limited";
    case ErrorCode::unavailable: return "unavailable";
    case ErrorCode::internal: return "internal";
  }
  return "internal";
}

const std::array<ErrorCode, kErrorCodeCount>& all_error_codes() {
  static const std::array<ErrorCode, kErrorCodeCount> codes = {
      ErrorCode::bad_json,       ErrorCode::bad_request, ErrorCode::unknown_op,
      ErrorCode::bad_room,       ErrorCode::not_subscribed, ErrorCode::too_many_rooms,
      ErrorCode::forbidden,      ErrorCode::bad_token,    ErrorCode::rate_limited,
      ErrorCode::unavailable,    ErrorCode::internal};
  return codes;
}

}  // namespace switchboard::protocol
