#include "admission/Authentication.h"

#include <fstream>
#include <sstream>

#include "switchboard/auth/AnonymousAuthenticator.h"
#include "switchboard/auth/JwtAuthenticator.h"
#include "switchboard/server/Log.h"

namespace switchboard::server {

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

nlohmann::json rooms_option(const std::string& text) {
  return text.empty() ? nlohmann::json() : nlohmann::json::parse(text);
}

auth::JwtKeySet load_keys(const Config& config) {
  auth::JwtKeySet keys;
  if (!config.jwt_secret.empty()) keys.add_hmac_secret("", config.jwt_secret);
  if (!config.jwt_public_key.empty()) keys.add_public_key_pem("", read_file(config.jwt_public_key));
  if (!config.jwks.empty()) keys.load_jwks_file(config.jwks);
  return keys;
}

}  // namespace

void apply_dev_mode(Config& config) {
  if (!config.dev) return;
  log::warn("DEVELOPMENT MODE (--dev): GET /dev/token mints a token for any user name that asks. "
            "Never run a reachable node like this.");
  if (!config.jwt_secret.empty()) return;
  config.jwt_secret = auth::random_hex(32);
  if (config.jwt_secret.empty()) throw std::runtime_error("could not generate a development secret");
}

std::unique_ptr<auth::Authenticator> make_authenticator(const Config& config) {
  std::unique_ptr<auth::Authenticator> anonymous;
  if (config.allow_anonymous) {
    anonymous = std::make_unique<auth::AnonymousAuthenticator>(rooms_option(config.anonymous_rooms));
    log::warn("anonymous connections are allowed (--allow-anonymous): clients without a token "
              "get a generated user id");
  }
  // Neither keys nor anonymous (the application's --proxy-connect says who every client is): a
  // verifier without keys, which refuses every token presented outside a handshake (a refresh,
  // the HTTP API).
  if (!config.jwt_enabled() && !anonymous)
    return std::make_unique<auth::JwtAuthenticator>(auth::JwtKeySet{}, auth::JwtOptions{}, nullptr);
  if (!config.jwt_enabled()) return anonymous;
  auth::JwtOptions options;
  if (!config.jwt_issuer.empty()) options.issuer = config.jwt_issuer;
  if (!config.jwt_audience.empty()) options.audience = config.jwt_audience;
  options.leeway = config.jwt_leeway;
  options.max_token_bytes = config.jwt_max_token_bytes;
  auto keys = load_keys(config);
  log::info("JWT authentication on, " + std::to_string(keys.size()) + " key(s)");
  auto jwt = std::make_unique<auth::JwtAuthenticator>(std::move(keys), options, std::move(anonymous));
  jwt->set_default_rooms(rooms_option(config.default_rooms));
  jwt->set_token_limits(config.token_limits);
  if (config.token_limits) log::info("tokens' limits claims are honoured (--token-limits)");
  jwt->set_key_loader([config] { return load_keys(config); });
  return jwt;
}

}  // namespace switchboard::server
