#include "backend/RoomPatterns.h"

#include <stdexcept>

namespace switchboard::server {

std::string_view RoomPatterns::trimmed(std::string_view entry) {
  while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
  while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
  return entry;
}

RoomPatterns RoomPatterns::all() {
  RoomPatterns patterns;
  patterns.patterns_.push_back("*");
  return patterns;
}

RoomPatterns RoomPatterns::parse(std::string_view list, std::string_view option) {
  if (trimmed(list).empty()) return all();
  RoomPatterns patterns;
  while (true) {
    auto comma = list.find(',');
    patterns.add(std::string(trimmed(list.substr(0, comma))), option);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return patterns;
}

void RoomPatterns::add(std::string pattern, std::string_view option) {
  if (pattern.empty()) throw std::invalid_argument(std::string(option) + ": an empty room pattern");
  if (auto star = pattern.find('*'); star != std::string::npos && star != pattern.size() - 1)
    throw std::invalid_argument(std::string(option) + ": in \"" + pattern + "\", * may only end the pattern");
  patterns_.push_back(std::move(pattern));
}

bool RoomPatterns::matches(std::string_view room) const {
  for (std::string_view pattern : patterns_) {
    if (pattern.back() == '*') {
      if (room.substr(0, pattern.size() - 1) == pattern.substr(0, pattern.size() - 1)) return true;
    } else if (room == pattern) {
      return true;
    }
  }
  return false;
}

}  // namespace switchboard::server
