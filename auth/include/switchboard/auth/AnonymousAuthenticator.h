#pragma once
#include "switchboard/auth/Authenticator.h"

namespace switchboard::auth {

// Accepts every handshake and gives it a fresh random user id ("anon-" + 16 hex digits).
// Enabled only by the explicit --allow-anonymous option.
class AnonymousAuthenticator final : public Authenticator {
 public:
  AuthResult authenticate(const AuthRequest& request) override;
};

}  // namespace switchboard::auth
