#pragma once
// Why a JSON Web Token was refused. The names returned by to_string() are the reason codes of the
// HTTP 401 answered to a refused handshake: keep them stable.
#include <string_view>

namespace switchboard::auth {

enum class JwtError {
  missing_token,    // no token at all
  bad_token,        // malformed: size, segments, base64url, JSON, header, required/typed claims
  expired,          // now > exp + leeway
  not_yet_valid,    // now + leeway < nbf
  bad_signature,    // the signature does not verify (or has the wrong size)
  bad_audience,     // options.audience configured and not in "aud"
  bad_issuer,       // options.issuer configured and "iss" differs
  unknown_key,      // the header's kid names no key of the set (or the set is empty)
  alg_not_allowed,  // "none", an unsupported alg, or an alg the selected key is not bound to
};

constexpr std::string_view to_string(JwtError error) noexcept {
  switch (error) {
    case JwtError::missing_token: return "missing_token";
    case JwtError::bad_token: return "bad_token";
    case JwtError::expired: return "expired";
    case JwtError::not_yet_valid: return "not_yet_valid";
    case JwtError::bad_signature: return "bad_signature";
    case JwtError::bad_audience: return "bad_audience";
    case JwtError::bad_issuer: return "bad_issuer";
    case JwtError::unknown_key: return "unknown_key";
    case JwtError::alg_not_allowed: return "alg_not_allowed";
  }
  return "bad_token";  // not reached for valid enumerators
}

}  // namespace switchboard::auth
