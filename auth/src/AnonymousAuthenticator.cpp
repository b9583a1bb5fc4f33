#include "switchboard/auth/AnonymousAuthenticator.h"

#include <openssl/rand.h>

#include <array>

namespace switchboard::auth {

AnonymousAuthenticator::AnonymousAuthenticator(nlohmann::json rooms) : rooms_(std::move(rooms)) {
  if (!rooms_.is_null()) RoomPermissions::parse(rooms_, "");  // throws now rather than per handshake
}

AuthResult AnonymousAuthenticator::authenticate(const AuthRequest&) {
  std::array<unsigned char, 8> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
    return AuthRejection{503, "unavailable", "could not generate a user id"};
  static constexpr char kHex[] = "0123456789abcdef";
  Identity id;
  id.user = "anon-";
  for (unsigned char b : bytes) {
    id.user += kHex[b >> 4];
    id.user += kHex[b & 0xf];
  }
  if (!rooms_.is_null()) id.permissions = RoomPermissions::parse(rooms_, id.user);
  return id;
}

}  // namespace switchboard::auth
