#include "switchboard/auth/RoomPermissions.h"

#include <algorithm>

namespace switchboard::auth {

namespace {

constexpr std::array<RoomAction, 3> kActions{RoomAction::subscribe, RoomAction::publish, RoomAction::presence};
constexpr std::string_view kUserPlaceholder = "{sub}";

}  // namespace

std::string_view to_string(RoomAction action) {
  switch (action) {
    case RoomAction::subscribe: return "sub";
    case RoomAction::publish: return "pub";
    case RoomAction::presence: return "presence";
  }
  return "?";
}

RoomPermissions RoomPermissions::unrestricted() {
  RoomPermissions p;
  p.unrestricted_ = true;
  return p;
}

RoomPermissions RoomPermissions::parse(const nlohmann::json& grants, std::string_view user) {
  if (!grants.is_object())
    throw std::invalid_argument(R"(rooms must be an object like {"sub":["chat:*"],"pub":[…],"presence":[…]})");
  RoomPermissions p;
  for (const auto& [key, patterns] : grants.items()) {
    const std::string& name = key;  // clang 14 cannot capture a structured binding
    auto action = std::find_if(kActions.begin(), kActions.end(), [&](RoomAction a) { return to_string(a) == name; });
    if (action == kActions.end())
      throw std::invalid_argument("rooms: unknown action \"" + key + "\" (sub, pub or presence)");
    if (!patterns.is_array()) throw std::invalid_argument("rooms." + key + " must be an array of patterns");
    auto& list = p.grants_[static_cast<std::size_t>(*action)];
    for (const auto& text : patterns) {
      if (!text.is_string() || text.get_ref<const std::string&>().empty())
        throw std::invalid_argument("rooms." + key + " holds a pattern that is not a non-empty string");
      // Split at the wildcards first, then put the user id in: its characters stay literal.
      Pattern pattern(1);
      for (char c : text.get_ref<const std::string&>()) {
        if (c == '*') pattern.emplace_back();
        else pattern.back() += c;
      }
      for (auto& piece : pattern)
        for (auto at = piece.find(kUserPlaceholder); at != std::string::npos;
             at = piece.find(kUserPlaceholder, at + user.size()))
          piece.replace(at, kUserPlaceholder.size(), user);
      list.push_back(std::move(pattern));
    }
  }
  return p;
}

void RoomPermissions::merge(const RoomPermissions& other) {
  unrestricted_ = unrestricted_ || other.unrestricted_;
  for (std::size_t i = 0; i < grants_.size(); ++i)
    grants_[i].insert(grants_[i].end(), other.grants_[i].begin(), other.grants_[i].end());
}

bool RoomPermissions::allows(RoomAction action, std::string_view room) const {
  if (unrestricted_) return true;
  for (const auto& pattern : grants_[static_cast<std::size_t>(action)])
    if (matches(pattern, room)) return true;
  return false;
}

bool RoomPermissions::matches(const Pattern& pattern, std::string_view room) {
  // pattern = p0 * p1 * … * pn: room starts with p0, ends with pn, and holds p1 … pn-1 in order
  // in between. Taking the leftmost fit of each middle piece is optimal for "*"-only globs.
  const std::string& first = pattern.front();
  if (pattern.size() == 1) return room == first;
  const std::string& last = pattern.back();
  if (room.size() < first.size() + last.size()) return false;
  if (room.substr(0, first.size()) != first || room.substr(room.size() - last.size()) != last) return false;
  std::string_view middle = room.substr(first.size(), room.size() - first.size() - last.size());
  for (std::size_t i = 1; i + 1 < pattern.size(); ++i) {
    auto at = middle.find(pattern[i]);
    if (at == std::string_view::npos) return false;
    middle.remove_prefix(at + pattern[i].size());
  }
  return true;
}

}  // namespace switchboard::auth
