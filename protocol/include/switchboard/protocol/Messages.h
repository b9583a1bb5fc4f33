#pragma once
// Serializers for every frame the node sends. Each builds its text once.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchboard/protocol/ErrorCode.h"
#include "switchboard/protocol/Payload.h"
#include "switchboard/protocol/StreamPosition.h"

namespace switchboard::protocol {

struct PresenceMember {
  std::string user;
  nlohmann::json info = nlohmann::json::object();
  int conns = 0;
};

enum class PresenceEventType { join, leave };

// {"id":<id>,"ok":true}
std::string ok_reply(const nlohmann::json& id);
// {"id":<id>,"ok":true,"offset":N,"epoch":"…"}, plus "recovered":true|false when the subscribe
// asked to recover from a position.
std::string subscribe_reply(const nlohmann::json& id, const StreamPosition& position, std::optional<bool> recovered);
// {"id":<id>,"ok":true,"offset":N}: the publish was accepted as the room's message N; without
// "id" when it is null (the HTTP API's answer to POST /api/publish).
std::string publish_reply(const nlohmann::json& id, std::uint64_t offset);
// {"id":<id>,"ok":true,"offset":N,"epoch":"…","messages":[<message push>,…]}, oldest first;
// without "id" when it is null (the HTTP API's answer); with "truncated":true last when older
// messages were left out.
std::string history_reply(const nlohmann::json& id, const StreamPosition& position, const std::vector<Payload>& messages,
                          bool truncated = false);
// {"id":<id>,"ok":true,"users":[{"user":…,"info":…,"conns":N},…]}
std::string presence_reply(const nlohmann::json& id, const std::vector<PresenceMember>& users);
// {"ok":true,"room":…,"users":[{"user":…,"info":…,"conns":N},…]}: the HTTP API's answer to
// GET /api/presence.
std::string presence_answer(std::string_view room, const std::vector<PresenceMember>& users);
// {"id":<id>,"error":{"code":"…","message":"…"}}; "id" is left out when null.
std::string error_reply(const nlohmann::json& id, ErrorCode code, std::string_view message);
// {"error":{"code":"…","message":"…"}}: the body of the node's HTTP error answers (refused
// handshakes and streams, the HTTP API, every route), whose codes go beyond ErrorCode's
// (draining, origin_not_allowed, not_found, …).
std::string error_answer(std::string_view code, std::string_view message);
// {"status":"…"}: the answer of the health checks (GET /healthz: "ok", GET /readyz: "ready").
std::string status_answer(std::string_view status);
// {"expires_in":N,"token":"…","user":"…"}: a development token (GET /dev/token, --dev only).
std::string dev_token_answer(std::string_view token, std::string_view user, std::int64_t expires_in);
// {"type":"message","room":…,"data":…,"from":…}: a message before the broker numbered it. `data`
// is the JSON text of one value (as parse_command or parse_publish_body keep it), copied as is.
Payload message_push(std::string_view room, std::string_view data, std::string_view from);
// The push with its offset: {"type":"message",…,"from":…,"offset":N}. What subscribers receive.
std::string with_offset(std::string_view push, std::uint64_t offset);
// {"type":"refresh","exp":<unix seconds>}: the connection's token expires at exp; send a new one.
Payload refresh_push(std::int64_t exp);
// {"type":"unsubscribed","room":…,"code":"…","message":"…"}: the node ended a subscription.
Payload unsubscribed_push(std::string_view room, ErrorCode code, std::string_view message);
// Server-Sent Events only (a /sse stream has no replies nor close frames):
// {"type":"subscribed","room":…,"offset":N,"epoch":"…"} (+ "recovered"): the stream is
// subscribed to the room, which stands at that position — what a subscribe reply says.
Payload subscribed_push(std::string_view room, const StreamPosition& position, std::optional<bool> recovered);
// {"type":"close","code":N,"reason":"…"}: the node ends the stream, with a close code's meaning.
Payload close_push(std::uint16_t code, std::string_view reason);
// {"type":"join"|"leave","room":…,"user":…,"info":…}
Payload presence_event(PresenceEventType type, std::string_view room, std::string_view user,
                       const nlohmann::json& info);

}  // namespace switchboard::protocol
