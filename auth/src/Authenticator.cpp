#include "switchboard/auth/Authenticator.h"

#include <openssl/rand.h>

#include <vector>

namespace switchboard::auth {

Authenticator::~Authenticator() = default;

AuthResult Authenticator::verify_token(std::string_view) {
  return AuthRejection{401, "unknown_key", "this node has no keys to verify tokens with"};
}

void Authenticator::reload() {}

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * bytes);
  for (unsigned char b : raw) {
    hex += kHex[b >> 4];
    hex += kHex[b & 0xf];
  }
  return hex;
}

}  // namespace switchboard::auth
