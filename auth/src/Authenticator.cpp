#include "switchboard/auth/Authenticator.h"

namespace switchboard::auth {

Authenticator::~Authenticator() = default;

AuthResult Authenticator::verify_token(std::string_view) {
  return AuthRejection{401, "unknown_key", "this node has no keys to verify tokens with"};
}

void Authenticator::reload() {}

}  // namespace switchboard::auth
