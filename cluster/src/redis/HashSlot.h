#pragma once
// The hash slot of a key or channel in a Redis Cluster, computed as Redis does
// (cluster.c keyHashSlot): CRC16 (XMODEM: polynomial 0x1021, initial 0) of the key modulo 16384 —
// or, when the key has a hash tag, of the tag only. The tag is what lies between the first '{'
// and the first '}' after it, if that is not empty: "a{b}c" and "{b}" share b's slot, while
// "a{}b" and "a}b{" hash whole. Keys that must meet in one script carry the same tag.
#include <cstdint>
#include <string_view>

namespace switchboard::cluster {

struct HashSlot {
  static constexpr int count = 16384;
  // CRC16-XMODEM of `bytes` ("123456789" → 0x31C3).
  static std::uint16_t crc16(std::string_view bytes);
  // The part of `key` that is hashed: its tag, or the whole key.
  static std::string_view hashed_part(std::string_view key);
  // 0 … 16383.
  static int of(std::string_view key) { return crc16(hashed_part(key)) & (count - 1); }
};

}  // namespace switchboard::cluster
