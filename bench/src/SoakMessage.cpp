#include "SoakMessage.h"

#include <charconv>

namespace switchboard::bench {

namespace {
constexpr std::string_view kRoomPrefix = "bench:soak:";
}  // namespace

std::string SoakMessage::room_name(std::size_t room) {
  return std::string(kRoomPrefix) + std::to_string(room);
}

std::optional<std::int64_t> SoakMessage::int_after(std::string_view frame, std::string_view key,
                                                   bool from_end) {
  auto pos = from_end ? frame.rfind(key) : frame.find(key);
  if (pos == std::string_view::npos) return std::nullopt;
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(frame.data() + pos + key.size(), frame.data() + frame.size(), value);
  if (ec != std::errc()) return std::nullopt;
  return value;
}

std::optional<SoakMessage> SoakMessage::parse(std::string_view frame) {
  constexpr std::string_view prefix = R"({"type":"message","room":")";
  if (!frame.starts_with(prefix)) return std::nullopt;
  auto room_end = frame.find('"', prefix.size());
  if (room_end == std::string_view::npos) return std::nullopt;
  auto room = frame.substr(prefix.size(), room_end - prefix.size());
  if (!room.starts_with(kRoomPrefix)) return std::nullopt;
  SoakMessage m;
  auto [end, ec] = std::from_chars(room.data() + kRoomPrefix.size(), room.data() + room.size(), m.room);
  if (ec != std::errc()) return std::nullopt;
  auto offset = int_after(frame, R"(,"offset":)", true);
  if (!offset) return std::nullopt;
  m.offset = *offset;
  return m;
}

}  // namespace switchboard::bench
