#pragma once
#include <memory>

#include "switchboard/auth/Authenticator.h"
#include "switchboard/auth/JwtKeySet.h"
#include "switchboard/auth/JwtVerifier.h"

namespace switchboard::auth {

// Authenticates an upgrade by its JWT: `Authorization: Bearer <jwt>` (server-side clients) or
// `?token=<jwt>` in the target (browsers). The user id is the token's "sub"; its "info" claim,
// when an object, is the presence info. A request without any token goes to `fallback` when one
// is given (anonymous connections, when allowed), else gets 401 missing_token. A token that is
// present but fails is always refused, never passed to the fallback.
class JwtAuthenticator final : public Authenticator {
 public:
  JwtAuthenticator(JwtKeySet keys, JwtOptions options, std::unique_ptr<Authenticator> fallback = nullptr);
  AuthResult authenticate(const AuthRequest& request) override;

  // The token of a request, or empty: the Bearer header first, then the ?token= parameter.
  static std::string_view find_token(const AuthRequest& request);

 private:
  JwtKeySet keys_;
  JwtOptions options_;
  std::unique_ptr<Authenticator> fallback_;
};

}  // namespace switchboard::auth
