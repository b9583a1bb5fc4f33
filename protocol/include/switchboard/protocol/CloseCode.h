#pragma once
// WebSocket close codes Switchboard sends. Documented in protocol/PROTOCOL.md.
#include <cstdint>

namespace switchboard::protocol::close_code {

inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;      // node shutting down
inline constexpr std::uint16_t protocol_error = 1002;  // the client broke RFC 6455 (the frame reader)
inline constexpr std::uint16_t invalid_payload = 1007; // text is not UTF-8 (the frame reader)
inline constexpr std::uint16_t too_big = 1009;         // a message larger than --max-message-size (the frame reader)
inline constexpr std::uint16_t internal_error = 1011;
inline constexpr std::uint16_t token_expired = 4001;
inline constexpr std::uint16_t disconnected = 4003;  // by a backend, through POST /api/disconnect
inline constexpr std::uint16_t slow_consumer = 4008;
inline constexpr std::uint16_t too_many_requests = 4029;  // kept on sending after rate_limited errors

}  // namespace switchboard::protocol::close_code
