#include "TestToken.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <stdexcept>

namespace switchboard::test {

namespace {
std::string base64url(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}
std::string base64url(const std::string& s) {
  return base64url(reinterpret_cast<const unsigned char*>(s.data()), s.size());
}
}  // namespace

std::string mint_hs256(const std::string& secret, const nlohmann::json& claims) {
  std::string input = base64url(R"({"alg":"HS256","typ":"JWT"})") + "." + base64url(claims.dump());
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
            reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len))
    throw std::runtime_error("HMAC failed");
  return input + "." + base64url(mac, len);
}

long long unix_time(long long offset) {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
             .count() +
         offset;
}

}  // namespace switchboard::test
