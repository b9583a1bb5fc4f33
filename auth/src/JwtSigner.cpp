#include "switchboard/auth/JwtSigner.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <climits>
#include <stdexcept>

namespace switchboard::auth {

namespace detail {

std::string base64url_encode(std::string_view bytes) {
  if (bytes.size() > static_cast<std::size_t>(INT_MAX / 2)) throw std::runtime_error("too much to encode");
  std::string out((bytes.size() + 2) / 3 * 4 + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
  }
  return out;
}

}  // namespace detail

std::string sign_hs256(std::string_view secret, const nlohmann::json& claims) {
  if (secret.empty()) throw std::runtime_error("an HMAC secret is needed to sign tokens");
  if (!claims.is_object()) throw std::runtime_error("token claims must be a JSON object");
  std::string input = detail::base64url_encode(R"({"alg":"HS256","typ":"JWT"})") + "." +
                      detail::base64url_encode(claims.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  unsigned char mac[EVP_MAX_MD_SIZE];
  std::size_t mac_len = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, secret.data(), secret.size(),
                reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, sizeof mac,
                &mac_len) == nullptr)
    throw std::runtime_error("HMAC-SHA256 failed");
  input += '.';
  input += detail::base64url_encode(std::string_view(reinterpret_cast<const char*>(mac), mac_len));
  OPENSSL_cleanse(mac, sizeof mac);
  return input;
}

}  // namespace switchboard::auth
