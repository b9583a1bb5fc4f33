#pragma once
#include "switchboard/auth/Authenticator.h"

namespace switchboard::auth {

// Accepts every handshake and gives it a fresh random user id ("anon-" + 16 hex digits).
// Enabled only by the explicit --allow-anonymous option. What anonymous connections may do is
// given as a rooms grant (see RoomPermissions.h), by default every room; "{sub}" in it is the
// generated id.
class AnonymousAuthenticator final : public Authenticator {
 public:
  explicit AnonymousAuthenticator(nlohmann::json rooms = nullptr);
  AuthResult authenticate(const AuthRequest& request) override;

 private:
  nlohmann::json rooms_;  // null: unrestricted
};

}  // namespace switchboard::auth
