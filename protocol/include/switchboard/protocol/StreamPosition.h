#pragma once
#include <cstdint>
#include <string>

namespace switchboard::protocol {

// Where a room's message stream stands: every message published to a room gets the next
// offset (1, 2, 3, …); the epoch names the room's history and changes when that history is
// lost (the embedded store restarted or expired it, Redis was flushed), so that an offset is
// only ever compared with offsets of the same epoch.
struct StreamPosition {
  std::uint64_t offset = 0;  // of the room's latest message; 0 before the first
  std::string epoch;
};

// Longest epoch a client may send back.
inline constexpr std::size_t kMaxEpochBytes = 64;

}  // namespace switchboard::protocol
