#include "switchboard/protocol/Messages.h"

namespace switchboard::protocol {

namespace {
using nlohmann::json;

// Appends one JSON value. Text that is not UTF-8 (it can come from configuration
// or tokens; frames are validated by the WebSocket layer) is replaced, not thrown on.
void append(std::string& out, const json& value) {
  out += value.dump(-1, ' ', false, json::error_handler_t::replace);
}
void append_string(std::string& out, std::string_view s) { append(out, json(s)); }

// Frames are written field by field so that "type" or "id" comes first and the
// value is serialized straight into the frame, with no intermediate object.
void append_id(std::string& out, const json& id) {
  out += "{\"id\":";
  append(out, id);
}
// "code":"…","message":"…" of an error or an unsubscribed push.
void append_code_and_message(std::string& out, ErrorCode code, std::string_view message) {
  out += "\"code\":\"";
  out += to_string(code);
  out += "\",\"message\":";
  append_string(out, message);
}
}  // namespace

std::string ok_reply(const json& id) {
  std::string out;
  append_id(out, id);
  out += ",\"ok\":true}";
  return out;
}

namespace {
void append_position(std::string& out, const StreamPosition& position) {
  out += ",\"offset\":";
  out += std::to_string(position.offset);
  out += ",\"epoch\":";
  append_string(out, position.epoch);
}
}  // namespace

std::string subscribe_reply(const json& id, const StreamPosition& position, std::optional<bool> recovered) {
  std::string out;
  append_id(out, id);
  out += ",\"ok\":true";
  append_position(out, position);
  if (recovered) out += *recovered ? ",\"recovered\":true}" : ",\"recovered\":false}";
  else out += '}';
  return out;
}

namespace {
// {"id":<id>,"ok":true, or {"ok":true, without an id.
void append_ok(std::string& out, const json& id) {
  if (id.is_null()) {
    out += "{\"ok\":true";
  } else {
    append_id(out, id);
    out += ",\"ok\":true";
  }
}
// ,"users":[…]}
void append_users(std::string& out, const std::vector<PresenceMember>& users) {
  out += ",\"users\":[";
  for (std::size_t i = 0; i < users.size(); ++i) {
    if (i) out += ',';
    out += "{\"user\":";
    append_string(out, users[i].user);
    out += ",\"info\":";
    append(out, users[i].info);
    out += ",\"conns\":";
    out += std::to_string(users[i].conns);
    out += '}';
  }
  out += "]}";
}
}  // namespace

std::string publish_reply(const json& id, std::uint64_t offset) {
  std::string out;
  append_ok(out, id);
  out += ",\"offset\":";
  out += std::to_string(offset);
  out += '}';
  return out;
}

std::string history_reply(const json& id, const StreamPosition& position, const std::vector<Payload>& messages,
                          bool truncated) {
  std::string out;
  std::size_t bytes = 64 + position.epoch.size();
  for (const auto& m : messages) bytes += m->size() + 1;
  out.reserve(bytes);
  append_ok(out, id);
  append_position(out, position);
  out += ",\"messages\":[";
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (i) out += ',';
    out += *messages[i];  // each already a serialized message push
  }
  out += truncated ? "],\"truncated\":true}" : "]}";
  return out;
}

std::string presence_reply(const json& id, const std::vector<PresenceMember>& users) {
  std::string out;
  append_id(out, id);
  out += ",\"ok\":true";
  append_users(out, users);
  return out;
}

std::string presence_answer(std::string_view room, const std::vector<PresenceMember>& users) {
  std::string out = "{\"ok\":true,\"room\":";
  append_string(out, room);
  append_users(out, users);
  return out;
}

std::string error_reply(const json& id, ErrorCode code, std::string_view message) {
  std::string out;
  if (id.is_null()) {
    out += "{\"error\":{";
  } else {
    append_id(out, id);
    out += ",\"error\":{";
  }
  append_code_and_message(out, code, message);
  out += "}}";
  return out;
}

std::string status_answer(std::string_view status) {
  std::string out = "{\"status\":";
  append_string(out, status);
  out += '}';
  return out;
}

std::string dev_token_answer(std::string_view token, std::string_view user, std::int64_t expires_in) {
  std::string out = "{\"expires_in\":" + std::to_string(expires_in) + ",\"token\":";
  append_string(out, token);
  out += ",\"user\":";
  append_string(out, user);
  out += '}';
  return out;
}

std::string error_answer(std::string_view code, std::string_view message) {
  std::string out = "{\"error\":{\"code\":";
  append_string(out, code);
  out += ",\"message\":";
  append_string(out, message);
  out += "}}";
  return out;
}

Payload message_push(std::string_view room, std::string_view data, std::string_view from) {
  std::string out;
  out.reserve(64 + room.size() + data.size() + from.size());
  out += "{\"type\":\"message\",\"room\":";
  append_string(out, room);
  out += ",\"data\":";
  out += data;  // the publisher's own text
  out += ",\"from\":";
  append_string(out, from);
  out += '}';
  return make_payload(std::move(out));
}

std::string with_offset(std::string_view push, std::uint64_t offset) {
  // A message push always ends with the closing brace of its object.
  std::string out;
  out.reserve(push.size() + 32);
  out.append(push.substr(0, push.size() - 1));
  out += ",\"offset\":";
  out += std::to_string(offset);
  out += '}';
  return out;
}

Payload refresh_push(std::int64_t exp) {
  return make_payload("{\"type\":\"refresh\",\"exp\":" + std::to_string(exp) + "}");
}

Payload unsubscribed_push(std::string_view room, ErrorCode code, std::string_view message) {
  std::string out = "{\"type\":\"unsubscribed\",\"room\":";
  append_string(out, room);
  out += ',';
  append_code_and_message(out, code, message);
  out += '}';
  return make_payload(std::move(out));
}

Payload subscribed_push(std::string_view room, const StreamPosition& position, std::optional<bool> recovered) {
  std::string out = "{\"type\":\"subscribed\",\"room\":";
  append_string(out, room);
  append_position(out, position);
  if (recovered) out += *recovered ? ",\"recovered\":true" : ",\"recovered\":false";
  out += '}';
  return make_payload(std::move(out));
}

Payload close_push(std::uint16_t code, std::string_view reason) {
  std::string out = "{\"type\":\"close\",\"code\":" + std::to_string(code) + ",\"reason\":";
  append_string(out, reason);
  out += '}';
  return make_payload(std::move(out));
}

Payload presence_event(PresenceEventType type, std::string_view room, std::string_view user,
                       const json& info) {
  std::string out = type == PresenceEventType::join ? "{\"type\":\"join\",\"room\":"
                                                    : "{\"type\":\"leave\",\"room\":";
  append_string(out, room);
  out += ",\"user\":";
  append_string(out, user);
  out += ",\"info\":";
  append(out, info);
  out += '}';
  return make_payload(std::move(out));
}

}  // namespace switchboard::protocol
