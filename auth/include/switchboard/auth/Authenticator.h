#pragma once
// The seam the HTTP upgrade calls before a WebSocket is accepted.
#include <string>
#include <string_view>
#include <variant>

#include "switchboard/auth/Identity.h"

namespace switchboard::auth {

// What the authenticator may look at: the parts of the upgrade request that carry credentials.
struct AuthRequest {
  std::string_view target;         // request target, with its query (browsers send ?token=)
  std::string_view authorization;  // the Authorization header, empty when absent
  std::string_view origin;         // the Origin header, empty when absent
  std::string_view remote_address;
};

// A refusal: answered with `http_status` and {"error":{"code":…,"message":…}} before any upgrade.
struct AuthRejection {
  int http_status = 401;
  std::string code;
  std::string message;
};

using AuthResult = std::variant<Identity, AuthRejection>;

class Authenticator {
 public:
  virtual ~Authenticator();
  // Called on an I/O thread for every upgrade request: must not block.
  virtual AuthResult authenticate(const AuthRequest& request) = 0;
};

}  // namespace switchboard::auth
