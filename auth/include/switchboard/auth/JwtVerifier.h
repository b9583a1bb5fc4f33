#pragma once
// Verification of a compact-serialized JSON Web Token (RFC 7519 / RFC 7515) against a JwtKeySet.
//
// Order of the checks (the first failure is the answer):
//   1. empty -> missing_token; longer than max_token_bytes, not exactly three segments, a segment
//      not strict base64url (unpadded URL alphabet), header not a JSON object, header without a
//      string "alg", a non-string "kid", or a "crit" header (no extension is understood) -> bad_token.
//   2. alg "none" (any case) or outside {HS256,HS384,HS512,RS256,RS384,RS512,PS256,ES256,ES384,EdDSA}
//      -> alg_not_allowed; then key selection and signature as documented in JwtKeySet.h
//      (unknown_key, alg_not_allowed, bad_signature).
//   3. Only after the signature: payload not a JSON object -> bad_token; "sub" not a non-empty
//      string -> bad_token; "exp" missing while require_exp, or "exp"/"nbf"/"iat" present but not a
//      number (or "exp"/"nbf" beyond year 9999) -> bad_token; "aud" present but neither a string
//      nor an array of strings -> bad_token.
//   4. now > exp + leeway -> expired; now + leeway < nbf -> not_yet_valid.
//   5. options.issuer set and "iss" differs (or is missing) -> bad_issuer.
//   6. options.audience set and "aud" (string, or array of strings) does not contain it -> bad_audience.
//      (When no audience is configured, "aud" is not checked.)
// verify_jwt never throws and never logs; the token never appears in any message.
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "switchboard/auth/JwtError.h"
#include "switchboard/auth/JwtKeySet.h"

namespace switchboard::auth {

struct JwtOptions {
  std::optional<std::string> issuer;    // required "iss" when set
  std::optional<std::string> audience;  // required member of "aud" when set
  std::chrono::seconds leeway{30};      // clock skew allowed on exp and nbf
  bool require_exp = true;
  std::size_t max_token_bytes = 8192;
};

struct JwtClaims {
  std::string subject;    // "sub"
  nlohmann::json payload;  // every claim, as sent
  std::optional<std::chrono::system_clock::time_point> expires_at;  // "exp" when present
};

using JwtResult = std::variant<JwtClaims, JwtError>;

JwtResult verify_jwt(std::string_view token, const JwtKeySet& keys, const JwtOptions& options,
                     std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

}  // namespace switchboard::auth
