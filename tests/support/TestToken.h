#pragma once
// HS256 tokens for integration tests, signed by the node's own signer (auth::sign_hs256). The
// verifier is checked against PyJWT's tokens in jwt_test, and the signer against PyJWT in the
// interop test.
#include <nlohmann/json.hpp>
#include <string>

namespace switchboard::test {

std::string mint_hs256(const std::string& secret, const nlohmann::json& claims);
// Seconds since the epoch, now plus `offset`.
long long unix_time(long long offset = 0);
// A token for `user`: "sub", "exp" `ttl` seconds from now, and the `extra` claims.
std::string user_token(const std::string& secret, const std::string& user,
                       const nlohmann::json& extra = nlohmann::json::object(), long long ttl = 3600);

}  // namespace switchboard::test
