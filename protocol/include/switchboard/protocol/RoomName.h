#pragma once
#include <cstddef>
#include <string_view>

namespace switchboard::protocol {

inline constexpr std::size_t kMaxRoomNameBytes = 200;

// True when `name` is 1..200 bytes of [A-Za-z0-9:_\-.@/].
bool is_valid_room_name(std::string_view name);

// The rule, as every error about a bad room name says it.
inline constexpr const char* kRoomNameRule = "room names are 1-200 bytes of letters, digits and : _ - . @ /";

}  // namespace switchboard::protocol
