#pragma once
#include <functional>
#include <memory>
#include <mutex>

#include "switchboard/auth/Authenticator.h"
#include "switchboard/auth/JwtKeySet.h"
#include "switchboard/auth/JwtVerifier.h"

namespace switchboard::auth {

// Authenticates an upgrade by its JWT: `Authorization: Bearer <jwt>` (server-side clients) or
// `?token=<jwt>` in the target (browsers). The user id is the token's "sub"; its "info" claim,
// when an object, is the presence info; its "rooms" claim (see RoomPermissions.h) what it may do,
// plus the node's default grants. A token without "rooms" may use every room. Its "limits" claim
// (see TokenLimits.h) is read only when honoured (set_token_limits), else ignored.
// A request without any token goes to `fallback` when one is given (anonymous connections, when
// allowed), else gets 401 missing_token. A token that is present but fails is always refused,
// never passed to the fallback.
class JwtAuthenticator final : public Authenticator {
 public:
  JwtAuthenticator(JwtKeySet keys, JwtOptions options, std::unique_ptr<Authenticator> fallback = nullptr);

  // Grants every token gets on top of its own "rooms" (e.g. {"sub":["public:*"]}). Throws
  // std::invalid_argument when malformed. Set before the first use.
  void set_default_rooms(const nlohmann::json& rooms);
  // Whether tokens' "limits" claims are honoured (--token-limits): a malformed one then refuses
  // the token with bad_token. Set before the first use.
  void set_token_limits(bool honoured) { token_limits_ = honoured; }
  // Where reload() gets fresh keys from (the key files). Set before the first use.
  void set_key_loader(std::function<JwtKeySet()> loader) { loader_ = std::move(loader); }

  AuthResult authenticate(const AuthRequest& request) override;
  AuthResult verify_token(std::string_view token) override;
  void reload() override;

  // The token of a request, or empty: the Bearer header first, then the ?token= parameter.
  static std::string_view find_token(const AuthRequest& request);
  // The token of an Authorization header ("Bearer <token>", scheme in any case), or empty.
  static std::string_view bearer_token(std::string_view authorization);

 private:
  JwtKeySet keys() const;

  mutable std::mutex keys_mutex_;
  JwtKeySet keys_;  // replaced whole by reload(); copies share the keys
  JwtOptions options_;
  nlohmann::json default_rooms_;  // null: none
  bool token_limits_ = false;
  std::function<JwtKeySet()> loader_;
  std::unique_ptr<Authenticator> fallback_;
};

}  // namespace switchboard::auth
