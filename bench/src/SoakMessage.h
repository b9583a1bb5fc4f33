// The frames of a soak run: its rooms ("bench:soak:<r>"), the messages pushed to them, and the
// integers (offsets) read out of replies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::bench {

struct SoakMessage {
  std::size_t room = 0;
  std::int64_t offset = 0;

  static std::string room_name(std::size_t room);
  // {"type":"message","room":"bench:soak:<r>","data":{…},"from":"…","offset":K}: the room's index
  // and K. The benchmark's data holds no "offset" key, so the last one is the message's.
  static std::optional<SoakMessage> parse(std::string_view frame);
  // The integer after `key` (its first occurrence, or its last with from_end).
  static std::optional<std::int64_t> int_after(std::string_view frame, std::string_view key,
                                               bool from_end = false);
  // The "offset" of a reply (the first one): the room's latest offset, or a publish's.
  static std::optional<std::int64_t> offset_of_reply(std::string_view frame) {
    return int_after(frame, R"("offset":)");
  }
};

}  // namespace switchboard::bench
