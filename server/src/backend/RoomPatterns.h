#pragma once
// Rooms named by patterns, as the webhooks' and the proxy's options give them: a room's name,
// a prefix ending in `*` (`chat:*`), or `*` for every room.
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::server {

class RoomPatterns {
 public:
  // Every room.
  static RoomPatterns all();
  // A comma-separated list (spaces around entries ignored; empty: every room). Throws
  // std::invalid_argument naming `option` when a `*` is anywhere but at a pattern's end or an
  // entry is empty.
  static RoomPatterns parse(std::string_view list, std::string_view option);

  // Adds one pattern. Throws std::invalid_argument naming `option` when it is malformed.
  void add(std::string pattern, std::string_view option);
  bool matches(std::string_view room) const;
  // An entry of a comma-separated option, without the spaces around it.
  static std::string_view trimmed(std::string_view entry);
  bool empty() const { return patterns_.empty(); }

 private:
  std::vector<std::string> patterns_;
};

}  // namespace switchboard::server
