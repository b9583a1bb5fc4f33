#include "switchboard/protocol/Command.h"

#include <cstddef>
#include <vector>

#include "switchboard/protocol/BinaryData.h"
#include "switchboard/protocol/JsonText.h"

namespace switchboard::protocol {

namespace {

using nlohmann::json;

constexpr std::size_t kMaxIdStringBytes = 64;
// Deeper nesting than this is refused before parsing, so that neither parsing,
// serializing nor freeing a hostile value can exhaust a thread's stack.
constexpr int kMaxNestingDepth = 64;

// Nesting depth of a JSON text, counting only brackets outside strings.
// Returns kMaxNestingDepth + 1 as soon as the limit is passed.
int nesting_depth(std::string_view text) {
  int depth = 0, deepest = 0;
  JsonText::StringTracker strings;
  for (char c : text) {
    if (strings.inside(c)) continue;
    if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (deepest > kMaxNestingDepth) return deepest;
    } else if (c == ']' || c == '}') --depth;
  }
  return deepest;
}

using Members = std::vector<JsonText::Member>;

// The member named `key` of a request object scanned by JsonText; of duplicate keys the last
// one counts, as it did when nlohmann parsed the whole request.
const JsonText::Member* find(const Members& members, std::string_view key) {
  for (auto it = members.rbegin(); it != members.rend(); ++it)
    if (it->key == key) return &*it;
  return nullptr;
}

// The member's value, parsed on its own; a discarded value (of no type a request accepts) when
// nlohmann cannot hold it: a number too large for a double.
json value_of(const JsonText::Member& member) {
  std::string_view text = member.value;
  if (text.size() >= 2 && text.front() == '"' && text.find('\\') == std::string_view::npos)
    return json(std::string(text.substr(1, text.size() - 2)));  // a string without escapes
  return json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

// The JSON text of the member's value, without whitespace outside strings.
std::string text_of(const JsonText::Member& member) {
  return member.has_whitespace ? JsonText::minify(member.value) : std::string(member.value);
}

// Scans `text`, which must be a JSON object. A UTF-8 byte order mark before it is skipped.
std::variant<Members, CommandError> scan_object(std::string_view text, const char* not_json,
                                                 const char* not_object, const char* too_deep) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  auto scanned = JsonText::scan(text, kMaxNestingDepth);
  if (scanned.status == JsonText::Status::too_deep) return CommandError{ErrorCode::bad_request, too_deep, nullptr};
  if (scanned.status != JsonText::Status::ok) return CommandError{ErrorCode::bad_json, not_json, nullptr};
  if (!scanned.object) return CommandError{ErrorCode::bad_request, not_object, nullptr};
  return std::move(scanned.members);
}

CommandError error(ErrorCode code, std::string message, json id = nullptr) {
  return CommandError{code, std::move(message), std::move(id)};
}

bool parse_op(const std::string& name, Op& op) {
  if (name == "subscribe") op = Op::subscribe;
  else if (name == "unsubscribe") op = Op::unsubscribe;
  else if (name == "publish") op = Op::publish;
  else if (name == "presence") op = Op::presence;
  else if (name == "ping") op = Op::ping;
  else if (name == "refresh") op = Op::refresh;
  else if (name == "history") op = Op::history;
  else return false;
  return true;
}

constexpr const char* kBadIdem = "idem must be a string of 1-64 letters, digits and _ - . :";

// Reads a publish's optional `idem` member into `key`; false when it is there but not a key.
bool read_idem(const Members& doc, std::string& key) {
  auto* member = find(doc, "idem");
  if (!member) return true;
  json idem = value_of(*member);
  if (!idem.is_string() || !is_valid_idem(idem.get_ref<const std::string&>())) return false;
  key = std::move(idem.get_ref<std::string&>());
  return true;
}

// Reads an HTTP body's optional `from` member (1-200 bytes) into `from`; false when it is there
// but not such a string.
bool read_from(const Members& doc, std::optional<std::string>& from) {
  auto* member = find(doc, "from");
  if (!member) return true;
  json value = value_of(*member);
  if (!value.is_string() || value.get_ref<const std::string&>().empty() ||
      value.get_ref<const std::string&>().size() > kMaxRoomNameBytes)
    return false;
  from = std::move(value.get_ref<std::string&>());
  return true;
}

// An HTTP body, which must be a JSON object (`shape` says which), scanned.
std::variant<Members, CommandError> scan_body(std::string_view text, const char* shape) {
  constexpr const char* too_deep = "body nests deeper than 64 levels";
  if (nesting_depth(text) > kMaxNestingDepth) return CommandError{ErrorCode::bad_request, too_deep, nullptr};
  return scan_object(text, "body is not valid JSON", shape, too_deep);
}

bool op_takes_room(Op op) { return op != Op::ping && op != Op::refresh; }

// Reads a publish's `data` member (`what` names the request in the error) into `data`: its text,
// which, when it is written as binary data, must be exactly {"$binary":"<base64>"}.
std::optional<std::string> read_data(const Members& doc, std::string& data, const char* what) {
  auto* member = find(doc, "data");
  if (!member) return std::string(what) + " needs data";
  data = text_of(*member);
  if (is_binary_data(data)) return binary_data_problem(data);
  return std::nullopt;
}

ParseResult parse_request(std::string_view text, const std::string_view* bytes);

}  // namespace

bool is_valid_idem(std::string_view key) {
  if (key.empty() || key.size() > kMaxIdemBytes) return false;
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

ParseResult parse_command(std::string_view text) { return parse_request(text, nullptr); }

ParseResult parse_binary_command(std::string_view frame) {
  auto newline = frame.find('\n');
  if (newline == std::string_view::npos)
    return error(ErrorCode::bad_request,
                 "a binary frame is a publish request's JSON header on one line, a newline, then the bytes");
  std::string_view bytes = frame.substr(newline + 1);
  return parse_request(frame.substr(0, newline), &bytes);
}

namespace {

// A request: a text frame, or the header of a binary frame that carries `bytes` (else null).
ParseResult parse_request(std::string_view text, const std::string_view* bytes) {
  constexpr const char* too_deep = "request nests deeper than 64 levels";
  if (nesting_depth(text) > kMaxNestingDepth) return error(ErrorCode::bad_request, too_deep);
  auto scanned = scan_object(text, "frame is not valid JSON", "a request is a JSON object", too_deep);
  if (auto* err = std::get_if<CommandError>(&scanned)) return std::move(*err);
  const Members& doc = std::get<Members>(scanned);

  Command req;
  if (auto* member = find(doc, "id")) {
    json id = value_of(*member);
    bool integer = id.is_number_integer();
    bool short_string = id.is_string() && id.get_ref<const std::string&>().size() <= kMaxIdStringBytes;
    if (!integer && !short_string)
      return error(ErrorCode::bad_request, "id must be an integer or a string of at most 64 bytes");
    req.id = std::move(id);
  }

  auto* op = find(doc, "op");
  json op_value = op ? value_of(*op) : json();
  if (!op_value.is_string()) return error(ErrorCode::bad_request, "op is required and must be a string", req.id);
  if (!parse_op(op_value.get_ref<const std::string&>(), req.op))
    return error(ErrorCode::unknown_op, "unknown op", req.id);

  if (op_takes_room(req.op)) {
    auto* room = find(doc, "room");
    json room_value = room ? value_of(*room) : json();
    if (!room_value.is_string())
      return error(ErrorCode::bad_request, "room is required and must be a string", req.id);
    req.room = std::move(room_value.get_ref<std::string&>());
    if (!is_valid_room_name(req.room))
      return error(ErrorCode::bad_room, kRoomNameRule, req.id);
  }

  if (req.op == Op::subscribe) {
    if (auto* member = find(doc, "presence")) {
      json presence = value_of(*member);
      if (!presence.is_boolean()) return error(ErrorCode::bad_request, "presence must be a boolean", req.id);
      req.presence = presence.get<bool>();
    }
    if (auto* member = find(doc, "since")) {
      json since = value_of(*member);
      auto offset = since.is_object() ? since.find("offset") : since.end();
      auto epoch = since.is_object() ? since.find("epoch") : since.end();
      if (!since.is_object() || offset == since.end() || !offset->is_number_unsigned() || epoch == since.end() ||
          !epoch->is_string() || epoch->get_ref<const std::string&>().size() > kMaxEpochBytes)
        return error(ErrorCode::bad_request,
                     R"(since must be {"offset":<integer >= 0>,"epoch":<string of at most 64 bytes>})", req.id);
      req.since = StreamPosition{offset->get<std::uint64_t>(), epoch->get<std::string>()};
    }
  }

  if (req.op == Op::history) {
    if (auto* member = find(doc, "limit")) {
      json limit = value_of(*member);
      if (!limit.is_number_unsigned() || limit.get<std::uint64_t>() < 1 || limit.get<std::uint64_t>() > kMaxHistoryLimit)
        return error(ErrorCode::bad_request, "limit must be an integer from 1 to 1000", req.id);
      req.limit = limit.get<std::size_t>();
    }
  }

  if (bytes && req.op != Op::publish)
    return error(ErrorCode::bad_request, "a binary frame carries a publish; other requests are text frames", req.id);
  if (req.op == Op::publish) {
    if (bytes) {
      if (find(doc, "data"))
        return error(ErrorCode::bad_request, "a binary publish carries its data after the header, not in it", req.id);
      req.data = binary_data(*bytes);
    } else if (auto problem = read_data(doc, req.data, "publish")) {
      return error(ErrorCode::bad_request, std::move(*problem), req.id);
    }
    if (!read_idem(doc, req.idem)) return error(ErrorCode::bad_request, kBadIdem, req.id);
  }

  if (req.op == Op::refresh) {
    auto* member = find(doc, "token");
    json token = member ? value_of(*member) : json();
    if (!token.is_string() || token.get_ref<const std::string&>().empty())
      return error(ErrorCode::bad_request, "refresh needs token, a non-empty string", req.id);
    req.token = std::move(token.get_ref<std::string&>());
  }
  return req;
}

}  // namespace

std::variant<PublishBody, CommandError> parse_publish_body(std::string_view text) {
  auto scanned = scan_body(text, R"(the body is a JSON object {"room":…,"data":…})");
  if (auto* err = std::get_if<CommandError>(&scanned)) return std::move(*err);
  const Members& doc = std::get<Members>(scanned);
  PublishBody body;
  auto* room = find(doc, "room");
  json room_value = room ? value_of(*room) : json();
  if (!room_value.is_string()) return error(ErrorCode::bad_request, "room is required and must be a string");
  body.room = std::move(room_value.get_ref<std::string&>());
  if (!is_valid_room_name(body.room))
    return error(ErrorCode::bad_room, kRoomNameRule);
  if (auto problem = read_data(doc, body.data, "publish")) return error(ErrorCode::bad_request, std::move(*problem));
  if (!read_from(doc, body.from)) return error(ErrorCode::bad_request, "from must be a string of 1-200 bytes");
  if (!read_idem(doc, body.idem)) return error(ErrorCode::bad_request, kBadIdem);
  return body;
}

std::variant<BroadcastBody, CommandError> parse_broadcast_body(std::string_view text) {
  auto scanned = scan_body(text, R"(the body is a JSON object {"rooms":[…],"data":…})");
  if (auto* err = std::get_if<CommandError>(&scanned)) return std::move(*err);
  const Members& doc = std::get<Members>(scanned);
  BroadcastBody body;
  auto* rooms = find(doc, "rooms");
  json rooms_value = rooms ? value_of(*rooms) : json();
  const std::string bad_rooms =
      "rooms is required: an array of 1-" + std::to_string(kMaxBroadcastRooms) + " distinct room names";
  if (!rooms_value.is_array() || rooms_value.empty() || rooms_value.size() > kMaxBroadcastRooms)
    return error(ErrorCode::bad_request, bad_rooms);
  for (auto& room : rooms_value) {
    if (!room.is_string()) return error(ErrorCode::bad_request, bad_rooms);
    auto& name = room.get_ref<std::string&>();
    if (!is_valid_room_name(name))
      return error(ErrorCode::bad_room, kRoomNameRule);
    for (const auto& seen : body.rooms)
      if (seen == name) return error(ErrorCode::bad_request, bad_rooms + " (" + name + " is there twice)");
    body.rooms.push_back(std::move(name));
  }
  if (auto problem = read_data(doc, body.data, "broadcast")) return error(ErrorCode::bad_request, std::move(*problem));
  if (!read_from(doc, body.from)) return error(ErrorCode::bad_request, "from must be a string of 1-200 bytes");
  if (!read_idem(doc, body.idem)) return error(ErrorCode::bad_request, kBadIdem);
  return body;
}

}  // namespace switchboard::protocol
