#pragma once
// Binary payloads. A message's data may be bytes rather than a JSON value: in JSON it is written
// {"$binary":"<standard base64, padded>"} (what Server-Sent Events, long-polling, history and the
// HTTP API carry, and what a JSON client may publish), and a WebSocket carries it in a binary
// frame: a one-line JSON header, a newline, then the bytes themselves.
//
//   client → node:  {"op":"publish","id":3,"room":"photos"}\n<bytes>
//   node → client:  {"type":"message","room":"photos","from":"alice","offset":7}\n<bytes>
#include <optional>
#include <string>
#include <string_view>

#include "switchboard/protocol/Payload.h"

namespace switchboard::protocol {

// The start of a binary message's data, exactly as the node writes and recognizes it.
inline constexpr std::string_view kBinaryDataPrefix = R"({"$binary":")";

// `data` (the JSON text of a message's data, as the node keeps it) is written as binary data.
inline bool is_binary_data(std::string_view data) { return data.starts_with(kBinaryDataPrefix); }

// Why `data`, which starts as binary data does, is not exactly {"$binary":"<base64>"} with
// standard, padded, canonical base64 (RFC 4648 section 4); nullopt when it is. Data that does not
// start so is no concern of this check.
std::optional<std::string> binary_data_problem(std::string_view data);

// {"$binary":"<base64 of bytes>"}: the data of a message of these bytes.
std::string binary_data(std::string_view bytes);

// The binary frame a WebSocket subscriber receives for `push` (a message push with its offset,
// as subscribers receive it), when its data is binary data: {"type":"message","room":…,"from":…,
// "offset":N}, a newline, then the bytes. Null for any other frame.
Payload binary_frame_of(std::string_view push);

}  // namespace switchboard::protocol
