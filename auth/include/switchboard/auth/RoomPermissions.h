#pragma once
// What a connection may do in which rooms: for each action a list of room patterns.
//
// The JSON form (the token's "rooms" claim, --default-rooms, --anonymous-rooms) is an object
// whose members are the actions, each an array of patterns:
//   {"sub": ["chat:*"], "pub": ["chat:*"], "presence": ["chat:*", "user:{sub}"]}
// "sub" allows subscribing, "pub" publishing, "presence" the presence op and subscribing with
// presence events. In a pattern, "*" matches any run of characters (":" and "/" included, or
// none) and "{sub}" stands for the user id, matched literally (a "*" in a user id is no wildcard).
// A missing action allows nothing; unsubscribing is always allowed.
#include <array>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace switchboard::auth {

enum class RoomAction { subscribe, publish, presence };

class RoomPermissions {
 public:
  // Allows nothing.
  RoomPermissions() = default;
  // Allows every action in every room.
  static RoomPermissions unrestricted();
  // Parses the JSON form above for `user`. Throws std::invalid_argument with a message for the
  // client when it is not an object of known actions each holding an array of non-empty strings.
  static RoomPermissions parse(const nlohmann::json& grants, std::string_view user);

  // Adds every grant of `other`.
  void merge(const RoomPermissions& other);
  bool allows(RoomAction action, std::string_view room) const;
  bool is_unrestricted() const { return unrestricted_; }

 private:
  // A pattern split at its wildcards: "a*b*c" → {"a","b","c"}; no wildcard → one piece.
  using Pattern = std::vector<std::string>;
  static bool matches(const Pattern& pattern, std::string_view room);

  bool unrestricted_ = false;
  std::array<std::vector<Pattern>, 3> grants_;
};

// The wire name of an action in the JSON form: "sub", "pub", "presence".
std::string_view to_string(RoomAction action);

}  // namespace switchboard::auth
