#include "switchboard/protocol/EventId.h"

#include <algorithm>
#include <charconv>

#include "switchboard/protocol/RoomName.h"

namespace switchboard::protocol {

std::string format_event_id(const RoomPositions& positions) {
  std::string out;
  for (const auto& [room, position] : positions) {
    if (position.epoch.empty()) continue;
    if (!out.empty()) out += ',';
    out += room;
    out += '=';
    out += std::to_string(position.offset);
    out += '.';
    out += position.epoch;
  }
  return out;
}

std::optional<RoomPositions> parse_event_id(std::string_view id) {
  RoomPositions out;
  while (!id.empty()) {
    auto comma = id.find(',');
    std::string_view entry = id.substr(0, comma);
    id = comma == std::string_view::npos ? std::string_view() : id.substr(comma + 1);
    if (comma != std::string_view::npos && id.empty()) return std::nullopt;  // a trailing comma
    auto eq = entry.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    std::string room(entry.substr(0, eq));
    if (!is_valid_room_name(room)) return std::nullopt;
    std::string_view rest = entry.substr(eq + 1);
    std::uint64_t offset = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), offset);
    if (ec != std::errc() || end == rest.data() || end == rest.data() + rest.size() || *end != '.') return std::nullopt;
    std::string_view epoch(end + 1, static_cast<std::size_t>(rest.data() + rest.size() - (end + 1)));
    if (epoch.empty() || epoch.size() > kMaxEpochBytes ||
        std::any_of(epoch.begin(), epoch.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; }))
      return std::nullopt;
    if (std::any_of(out.begin(), out.end(), [&](const auto& p) { return p.first == room; })) return std::nullopt;
    out.emplace_back(std::move(room), StreamPosition{offset, std::string(epoch)});
  }
  return out;
}

}  // namespace switchboard::protocol
