#pragma once
// Minting of HS256 tokens with the node's own HMAC secret: `switchboard gentoken` and the
// development token endpoint. Verification never goes through here (see JwtVerifier.h).
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace switchboard::auth {

// The compact serialization of an HS256 JWS over `claims` (an object). Throws std::runtime_error
// when the secret is empty or OpenSSL fails.
std::string sign_hs256(std::string_view secret, const nlohmann::json& claims);

namespace detail {
// Base64url without padding (RFC 4648 section 5).
std::string base64url_encode(std::string_view bytes);
}  // namespace detail

}  // namespace switchboard::auth
