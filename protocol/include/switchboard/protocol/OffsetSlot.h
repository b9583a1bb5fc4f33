#pragma once
// Where a message push takes its offset, for a store that numbers messages itself and writes the
// push around the number (a cluster's Redis script): with_offset(push, N) is the push but its
// last `kept` bytes, then `before`, then N in decimal, then those last `kept` bytes. The store
// moves bytes only; what they mean stays here, next to with_offset (Messages.h).
#include <cstddef>
#include <string_view>

namespace switchboard::protocol {

struct OffsetSlot {
  std::string_view before;
  std::size_t kept = 0;
};

// Every message push's (message_push, as with_offset numbers it): `,"offset":N` before its
// closing brace.
constexpr OffsetSlot message_offset_slot() { return {",\"offset\":", 1}; }

}  // namespace switchboard::protocol
