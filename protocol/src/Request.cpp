#include "switchboard/protocol/Request.h"

#include <cstddef>

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
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (deepest > kMaxNestingDepth) return deepest;
    } else if (c == ']' || c == '}') --depth;
  }
  return deepest;
}

RequestError error(ErrorCode code, std::string message, json id = nullptr) {
  return RequestError{code, std::move(message), std::move(id)};
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

bool op_takes_room(Op op) { return op != Op::ping && op != Op::refresh; }

}  // namespace

ParseResult parse_request(std::string_view text) {
  if (nesting_depth(text) > kMaxNestingDepth)
    return error(ErrorCode::bad_request, "request nests deeper than 64 levels");

  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return error(ErrorCode::bad_json, "frame is not valid JSON");
  if (!doc.is_object()) return error(ErrorCode::bad_request, "a request is a JSON object");

  Request req;
  if (auto it = doc.find("id"); it != doc.end()) {
    bool integer = it->is_number_integer();
    bool short_string = it->is_string() && it->get_ref<const std::string&>().size() <= kMaxIdStringBytes;
    if (!integer && !short_string)
      return error(ErrorCode::bad_request, "id must be an integer or a string of at most 64 bytes");
    req.id = std::move(*it);
  }

  auto op_it = doc.find("op");
  if (op_it == doc.end() || !op_it->is_string())
    return error(ErrorCode::bad_request, "op is required and must be a string", req.id);
  if (!parse_op(op_it->get_ref<const std::string&>(), req.op))
    return error(ErrorCode::unknown_op, "unknown op", req.id);

  if (op_takes_room(req.op)) {
    auto room_it = doc.find("room");
    if (room_it == doc.end() || !room_it->is_string())
      return error(ErrorCode::bad_request, "room is required and must be a string", req.id);
    req.room = std::move(room_it->get_ref<std::string&>());
    if (!is_valid_room_name(req.room))
      return error(ErrorCode::bad_room,
                   "room names are 1-200 bytes of letters, digits and : _ - . @ /", req.id);
  }

  if (req.op == Op::subscribe) {
    if (auto it = doc.find("presence"); it != doc.end()) {
      if (!it->is_boolean()) return error(ErrorCode::bad_request, "presence must be a boolean", req.id);
      req.presence = it->get<bool>();
    }
    if (auto it = doc.find("since"); it != doc.end()) {
      auto offset = it->is_object() ? it->find("offset") : it->end();
      auto epoch = it->is_object() ? it->find("epoch") : it->end();
      if (!it->is_object() || offset == it->end() || !offset->is_number_unsigned() || epoch == it->end() ||
          !epoch->is_string() || epoch->get_ref<const std::string&>().size() > kMaxEpochBytes)
        return error(ErrorCode::bad_request,
                     R"(since must be {"offset":<integer >= 0>,"epoch":<string of at most 64 bytes>})", req.id);
      req.since = StreamPosition{offset->get<std::uint64_t>(), epoch->get<std::string>()};
    }
  }

  if (req.op == Op::history) {
    if (auto it = doc.find("limit"); it != doc.end()) {
      if (!it->is_number_unsigned() || it->get<std::uint64_t>() < 1 || it->get<std::uint64_t>() > kMaxHistoryLimit)
        return error(ErrorCode::bad_request, "limit must be an integer from 1 to 1000", req.id);
      req.limit = it->get<std::size_t>();
    }
  }

  if (req.op == Op::publish) {
    auto data_it = doc.find("data");
    if (data_it == doc.end()) return error(ErrorCode::bad_request, "publish needs data", req.id);
    req.data = std::move(*data_it);
  }

  if (req.op == Op::refresh) {
    auto token_it = doc.find("token");
    if (token_it == doc.end() || !token_it->is_string() || token_it->get_ref<const std::string&>().empty())
      return error(ErrorCode::bad_request, "refresh needs token, a non-empty string", req.id);
    req.token = std::move(token_it->get_ref<std::string&>());
  }
  return req;
}

std::variant<PublishBody, RequestError> parse_publish_body(std::string_view text) {
  if (nesting_depth(text) > kMaxNestingDepth)
    return error(ErrorCode::bad_request, "body nests deeper than 64 levels");
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return error(ErrorCode::bad_json, "body is not valid JSON");
  if (!doc.is_object()) return error(ErrorCode::bad_request, R"(the body is a JSON object {"room":…,"data":…})");
  PublishBody body;
  auto room_it = doc.find("room");
  if (room_it == doc.end() || !room_it->is_string())
    return error(ErrorCode::bad_request, "room is required and must be a string");
  body.room = std::move(room_it->get_ref<std::string&>());
  if (!is_valid_room_name(body.room))
    return error(ErrorCode::bad_room, "room names are 1-200 bytes of letters, digits and : _ - . @ /");
  auto data_it = doc.find("data");
  if (data_it == doc.end()) return error(ErrorCode::bad_request, "publish needs data");
  body.data = std::move(*data_it);
  if (auto from_it = doc.find("from"); from_it != doc.end()) {
    if (!from_it->is_string() || from_it->get_ref<const std::string&>().empty() ||
        from_it->get_ref<const std::string&>().size() > kMaxRoomNameBytes)
      return error(ErrorCode::bad_request, "from must be a string of 1-200 bytes");
    body.from = std::move(from_it->get_ref<std::string&>());
  }
  return body;
}

}  // namespace switchboard::protocol
