// The switchboard executable: reads the configuration, builds the node's parts and runs it.
#include <fstream>
#include <iostream>
#include <sstream>

#include "switchboard/auth/AnonymousAuthenticator.h"
#include "switchboard/auth/JwtAuthenticator.h"
#include "switchboard/cluster/InProcessBus.h"
#include "switchboard/cluster/InProcessPresenceStore.h"
#include "switchboard/server/Config.h"
#include "switchboard/server/Log.h"
#include "switchboard/server/Server.h"

extern char** environ;

namespace {

using namespace switchboard;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// JWT when keys are configured (with anonymous as the fallback for token-less clients when
// allowed), else anonymous.
std::unique_ptr<auth::Authenticator> make_authenticator(const server::Config& config) {
  std::unique_ptr<auth::Authenticator> anonymous;
  if (config.allow_anonymous) {
    anonymous = std::make_unique<auth::AnonymousAuthenticator>();
    server::log::warn("anonymous connections are allowed (--allow-anonymous): clients without a token "
                      "get a generated user id");
  }
  if (!config.jwt_enabled()) return anonymous;
  auth::JwtKeySet keys;
  if (!config.jwt_secret.empty()) keys.add_hmac_secret("", config.jwt_secret);
  if (!config.jwt_public_key.empty()) keys.add_public_key_pem("", read_file(config.jwt_public_key));
  if (!config.jwks.empty()) keys.load_jwks_file(config.jwks);
  auth::JwtOptions options;
  if (!config.jwt_issuer.empty()) options.issuer = config.jwt_issuer;
  if (!config.jwt_audience.empty()) options.audience = config.jwt_audience;
  options.leeway = config.jwt_leeway;
  server::log::info("JWT authentication on, " + std::to_string(keys.size()) + " key(s)");
  return std::make_unique<auth::JwtAuthenticator>(std::move(keys), options, std::move(anonymous));
}

}  // namespace

int main(int argc, char* argv[]) {
  std::vector<std::string> environment;
  for (char** e = environ; *e; ++e) environment.emplace_back(*e);

  auto loaded = server::load_config(argc, argv, environment);
  if (!loaded.config) {
    (loaded.exit_code == 0 ? std::cout : std::cerr) << loaded.message;
    return loaded.exit_code;
  }
  server::Config config = std::move(*loaded.config);
  server::log::set_level(config.log_level);

  try {
    // The only place that chooses implementations. Without a cluster configured, the node
    // runs alone on the embedded bus and presence store.
    auto authenticator = make_authenticator(config);
    server::Server node(std::move(config), std::move(authenticator), std::make_unique<cluster::InProcessBus>(),
                        std::make_unique<cluster::InProcessPresenceStore>());
    node.start();
    int signal = node.wait_for_signal();
    server::log::info("signal " + std::to_string(signal) + " received, shutting down");
    node.stop();
  } catch (const std::exception& e) {
    server::log::error(std::string("cannot run: ") + e.what());
    return 1;
  }
  return 0;
}
