#include "switchboard/protocol/RoomName.h"

namespace switchboard::protocol {

namespace {
bool is_room_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' ||
         c == '_' || c == '-' || c == '.' || c == '@' || c == '/';
}
}  // namespace

bool is_valid_room_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxRoomNameBytes) return false;
  for (unsigned char c : name)
    if (!is_room_char(c)) return false;
  return true;
}

}  // namespace switchboard::protocol
