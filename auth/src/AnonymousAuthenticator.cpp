#include "switchboard/auth/AnonymousAuthenticator.h"

namespace switchboard::auth {

AnonymousAuthenticator::AnonymousAuthenticator(nlohmann::json rooms) : rooms_(std::move(rooms)) {
  if (!rooms_.is_null()) RoomPermissions::parse(rooms_, "");  // throws now rather than per handshake
}

AuthResult AnonymousAuthenticator::authenticate(const AuthRequest&) {
  std::string suffix = random_hex(8);
  if (suffix.empty()) return AuthRejection{503, "unavailable", "could not generate a user id"};
  Identity id;
  id.user = "anon-" + suffix;
  if (!rooms_.is_null()) id.permissions = RoomPermissions::parse(rooms_, id.user);
  return id;
}

}  // namespace switchboard::auth
