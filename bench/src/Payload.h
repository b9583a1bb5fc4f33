// The frames the load generator sends, and cheap parsing of what the node sends back: a string
// search for fixed prefixes instead of a JSON parser on the delivery path.
//
// A benchmark message's data is {"a":<seq>,"b":<send time, steady_clock ns>,"p":"xx…"}: the node
// re-serializes data with its keys sorted, so "a" and "b" stay first and are found at fixed
// places, and "p" pads it to the requested payload size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::bench {

enum class FrameKind { message, reply, other };

struct Delivery {
  std::string_view room;
  std::int64_t seq = 0;
  std::int64_t sent_ns = 0;
  std::string_view frame;  // the whole push (its "offset" is last)
};

struct Reply {
  std::string_view id;  // the id as written: a number, or a string with its quotes
  bool ok = false;
  std::string_view frame;  // the whole reply (a publish's "offset", say)
};

FrameKind classify(std::string_view frame);
// A {"type":"message",…} push carrying benchmark data; nullopt for anything else.
std::optional<Delivery> parse_delivery(std::string_view frame);
// A {"id":…,"ok":true} or {"id":…,"error":…} reply; nullopt for anything else.
std::optional<Reply> parse_reply(std::string_view frame);

// The benchmark data {"a":<seq>,"b":<sent_ns>,"p":"xx…"}, padded to `payload_bytes` when that is
// more than the unpadded data: what a switchboard publish carries as "data", and a NATS PUB as
// its payload.
std::string benchmark_data(std::int64_t seq, std::int64_t sent_ns, std::size_t payload_bytes);
// The seq and send time of benchmark data at the start of `data` (a NATS message's payload);
// nullopt for anything else. The Delivery's room is left empty.
std::optional<Delivery> parse_data(std::string_view data);
// {"op":"publish","id":<seq>,"room":…,"data":<benchmark_data>}; with an `id` other than 0, that
// id rather than the seq.
std::string publish_frame(std::string_view room, std::int64_t seq, std::int64_t sent_ns,
                          std::size_t payload_bytes, std::int64_t id = 0);
// {"op":"subscribe","id":"s","room":…}; its reply has the id "s" (with quotes).
std::string subscribe_frame(std::string_view room);
// The reply to subscribe_frame: {"id":"s",…}.
bool is_subscribe_reply(std::string_view frame);
// steady_clock now, in nanoseconds: what goes into "b".
std::int64_t now_ns();

}  // namespace switchboard::bench
