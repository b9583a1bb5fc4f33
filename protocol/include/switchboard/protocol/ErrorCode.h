#pragma once
// Error codes a client receives in {"id":N,"error":{"code":"…","message":"…"}}.
// The set is documented in protocol/PROTOCOL.md; add to both together.
#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace switchboard::protocol {

enum class ErrorCode {
  bad_json,        // the frame is not valid JSON
  bad_request,     // valid JSON, but not a well-formed request (or a binary frame)
  unknown_op,      // "op" names no operation
  bad_room,        // room name outside the allowed charset or length
  not_subscribed,  // unsubscribe from a room the connection is not in
  too_many_rooms,  // the per-connection room limit is reached
  forbidden,       // the identity may not do this in this room
  bad_token,       // a refresh token was refused (the message says why)
  rate_limited,    // the per-connection publish rate is exceeded
  unavailable,     // the node cannot take the request right now; retry later
  internal,        // a bug on our side; the connection stays open
};

inline constexpr std::size_t kErrorCodeCount = 11;

// The wire name of a code, e.g. "bad_json".
std::string_view to_string(ErrorCode code);

// All codes, in declaration order (for metrics and documentation tests).
const std::array<ErrorCode, kErrorCodeCount>& all_error_codes();

}  // namespace switchboard::protocol
