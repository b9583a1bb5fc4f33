#include "Payload.h"

#include <charconv>
#include <iterator>
#include <chrono>

namespace switchboard::bench {

namespace {

constexpr std::string_view kMessagePrefix = R"({"type":"message","room":")";
constexpr std::string_view kDataPrefix = R"(","data":{"a":)";
constexpr std::string_view kTimeKey = R"(,"b":)";
constexpr std::string_view kReplyPrefix = R"({"id":)";

// Parses the integer at `pos`; returns the position after it, or npos.
std::size_t parse_int(std::string_view s, std::size_t pos, std::int64_t& out) {
  auto [end, ec] = std::from_chars(s.data() + pos, s.data() + s.size(), out);
  if (ec != std::errc()) return std::string_view::npos;
  return static_cast<std::size_t>(end - s.data());
}

// Reads the benchmark data's sequence number (the integer at `pos`, after {"a":) and send time
// into `d`; false when they are not there.
bool parse_seq_and_time(std::string_view s, std::size_t pos, Delivery& d) {
  pos = parse_int(s, pos, d.seq);
  if (pos == std::string_view::npos || s.compare(pos, kTimeKey.size(), kTimeKey) != 0) return false;
  return parse_int(s, pos + kTimeKey.size(), d.sent_ns) != std::string_view::npos;
}

}  // namespace

FrameKind classify(std::string_view frame) {
  if (frame.starts_with(kMessagePrefix)) return FrameKind::message;
  if (frame.starts_with(kReplyPrefix)) return FrameKind::reply;
  return FrameKind::other;
}

std::optional<Delivery> parse_delivery(std::string_view frame) {
  if (!frame.starts_with(kMessagePrefix)) return std::nullopt;
  // Room names cannot hold a quote, so the first one after the prefix ends the room.
  auto room_end = frame.find('"', kMessagePrefix.size());
  if (room_end == std::string_view::npos || frame.compare(room_end, kDataPrefix.size(), kDataPrefix) != 0)
    return std::nullopt;
  Delivery d;
  d.frame = frame;
  d.room = frame.substr(kMessagePrefix.size(), room_end - kMessagePrefix.size());
  if (!parse_seq_and_time(frame, room_end + kDataPrefix.size(), d)) return std::nullopt;
  return d;
}

std::optional<Reply> parse_reply(std::string_view frame) {
  if (!frame.starts_with(kReplyPrefix)) return std::nullopt;
  auto comma = frame.find(',', kReplyPrefix.size());
  if (comma == std::string_view::npos) return std::nullopt;
  Reply r;
  r.frame = frame;
  r.id = frame.substr(kReplyPrefix.size(), comma - kReplyPrefix.size());
  r.ok = frame.compare(comma, 10, R"(,"ok":true)") == 0;
  return r;
}

std::string benchmark_data(std::int64_t seq, std::int64_t sent_ns, std::size_t payload_bytes) {
  std::string data = R"({"a":)" + std::to_string(seq) + R"(,"b":)" + std::to_string(sent_ns) + R"(,"p":")";
  const std::size_t closing = 2;  // "}
  // The padding reads like a chat message — words, drawn from the seq — so that it compresses as
  // text does (a run of one letter would shrink to nothing under permessage-deflate).
  static constexpr std::string_view kWords[] = {
      "the", "meeting", "moved", "to", "three", "o'clock", "see", "you", "there", "thanks", "for", "sending",
      "report", "I'll", "check", "and", "get", "back", "tomorrow", "morning", "can", "we", "ship", "this",
      "build", "before", "Friday", "lunch", "is", "on", "me", "today", "great", "work", "everyone", "new",
      "release", "notes", "are", "up", "please", "review", "when", "have", "a", "minute", "server", "looks",
      "fine", "now", "after", "restart", "who", "owns", "ticket", "let's", "talk", "about", "it", "later",
      "sounds", "good", "deploy", "done"};
  const std::size_t unpadded = data.size();
  std::uint64_t x = static_cast<std::uint64_t>(seq);
  while (data.size() + closing < payload_bytes) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    data.append(kWords[(x >> 33) % std::size(kWords)]);
    data += ' ';
  }
  if (data.size() > unpadded) data.resize(payload_bytes - closing);  // the last word cut to size
  data += "\"}";
  return data;
}

std::optional<Delivery> parse_data(std::string_view data) {
  constexpr std::string_view kSeqKey = R"({"a":)";
  if (!data.starts_with(kSeqKey)) return std::nullopt;
  Delivery d;
  d.frame = data;
  if (!parse_seq_and_time(data, kSeqKey.size(), d)) return std::nullopt;
  return d;
}

std::string publish_frame(std::string_view room, std::int64_t seq, std::int64_t sent_ns,
                          std::size_t payload_bytes, std::int64_t id) {
  const std::string data = benchmark_data(seq, sent_ns, payload_bytes);
  std::string frame = R"({"op":"publish","id":)" + std::to_string(id != 0 ? id : seq) + R"(,"room":")";
  frame.append(room);
  frame += R"(","data":)";
  frame += data;
  frame += '}';
  return frame;
}

std::string subscribe_frame(std::string_view room) {
  std::string frame = R"({"op":"subscribe","id":"s","room":")";
  frame.append(room);
  frame += "\"}";
  return frame;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool is_subscribe_reply(std::string_view frame) { return frame.starts_with(R"({"id":"s",)"); }

}  // namespace switchboard::bench
