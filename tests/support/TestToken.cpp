#include "TestToken.h"

#include <chrono>

#include "switchboard/auth/JwtSigner.h"

namespace switchboard::test {

std::string mint_hs256(const std::string& secret, const nlohmann::json& claims) {
  return auth::sign_hs256(secret, claims);
}

std::string user_token(const std::string& secret, const std::string& user, const nlohmann::json& extra,
                       long long ttl) {
  nlohmann::json claims = {{"sub", user}, {"exp", unix_time(ttl)}};
  claims.update(extra);
  return mint_hs256(secret, claims);
}

long long unix_time(long long offset) {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
             .count() +
         offset;
}

}  // namespace switchboard::test
