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
  // Verifies a token presented outside a handshake: a live connection's refresh, or a backend's
  // call to the HTTP API. Never falls back to anonymous. This default refuses every token
  // (a node without token verification).
  virtual AuthResult verify_token(std::string_view token);
  // Re-reads key material from its files (SIGHUP). Throws std::exception when the new material
  // is unusable; the old keys then stay in use. This default does nothing.
  virtual void reload();
};

// `bytes` random bytes from OpenSSL's generator, as lowercase hex (user ids, secrets).
// Empty when the generator fails.
std::string random_hex(std::size_t bytes);

}  // namespace switchboard::auth
