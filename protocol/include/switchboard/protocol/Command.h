#pragma once
// A client command: one JSON object per text frame (or a binary frame's header), parsed and
// validated.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "switchboard/protocol/ErrorCode.h"
#include "switchboard/protocol/RoomName.h"
#include "switchboard/protocol/StreamPosition.h"

namespace switchboard::protocol {

enum class Op { subscribe, unsubscribe, publish, presence, ping, refresh, history };

// An idempotency key (`idem` of a publish): 1-64 bytes of letters, digits and _ - . :
inline constexpr std::size_t kMaxIdemBytes = 64;
bool is_valid_idem(std::string_view key);

// Messages a history request returns at most, and by default.
inline constexpr std::size_t kMaxHistoryLimit = 1000;
inline constexpr std::size_t kDefaultHistoryLimit = 100;

struct Command {
  Op op = Op::ping;
  nlohmann::json id;      // null when the request has no id (then success is silent)
  std::string room;       // subscribe, unsubscribe, publish, presence, history
  bool presence = false;  // subscribe: also receive join/leave events
  std::optional<StreamPosition> since;  // subscribe: recover the messages after this position
  std::size_t limit = kDefaultHistoryLimit;  // history: at most this many of the latest messages
  std::string data;       // publish: the JSON text of any value, as sent minus whitespace outside strings
  std::string idem;       // publish: the publisher's idempotency key (kMaxIdemBytes), empty when none
  std::string token;      // refresh: the new JWT
};

struct CommandError {
  ErrorCode code;
  std::string message;
  nlohmann::json id;  // the request's id when it could be read, else null
};

using ParseResult = std::variant<Command, CommandError>;

// Parses and validates one text frame. Never throws. The frame is checked as strict JSON
// (RFC 8259, valid UTF-8, numbers of any magnitude); `data` is kept as the publisher's text.
ParseResult parse_command(std::string_view text);

// Parses a binary frame (see BinaryData.h): a publish request's JSON header — one line, without
// `data` —, a newline, then the bytes, which become the message's data as {"$binary":"…"}.
// Never throws.
ParseResult parse_binary_command(std::string_view frame);

// The body of an HTTP publish (POST /api/publish): {"room":…,"data":…,"from":…,"idem":…}.
struct PublishBody {
  std::string room;
  std::string data;  // the JSON text of any value, as sent minus whitespace outside strings
  std::optional<std::string> from;  // 1-200 bytes when present
  std::string idem;  // the idempotency key, empty when none
};

// Parses and validates an HTTP publish body, with the same limits as a frame. Never throws.
std::variant<PublishBody, CommandError> parse_publish_body(std::string_view text);

// The body of a broadcast (POST /api/broadcast): {"rooms":[…],"data":…,"from":…,"idem":…}, one
// message to each of 1-kMaxBroadcastRooms distinct rooms.
inline constexpr std::size_t kMaxBroadcastRooms = 100;
struct BroadcastBody {
  std::vector<std::string> rooms;  // in the order given, each once
  std::string data;
  std::optional<std::string> from;
  std::string idem;
};

// Parses and validates a broadcast body as parse_publish_body does a publish's. Never throws.
std::variant<BroadcastBody, CommandError> parse_broadcast_body(std::string_view text);

}  // namespace switchboard::protocol
