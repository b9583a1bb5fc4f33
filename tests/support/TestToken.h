#pragma once
// HS256 tokens for integration tests, signed with OpenSSL's HMAC. (The verifier itself is also
// checked against PyJWT's tokens in jwt_test.)
#include <nlohmann/json.hpp>
#include <string>

namespace switchboard::test {

std::string mint_hs256(const std::string& secret, const nlohmann::json& claims);
// Seconds since the epoch, now plus `offset`.
long long unix_time(long long offset = 0);

}  // namespace switchboard::test
