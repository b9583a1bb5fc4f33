#include "TokenCommand.h"

#include <boost/program_options.hpp>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>

#include "switchboard/auth/JwtSigner.h"
#include "switchboard/auth/RoomPermissions.h"
#include "switchboard/auth/TokenLimits.h"

namespace switchboard::server {

namespace po = boost::program_options;

namespace {

// "90", "90s", "15m", "1h", "7d" → seconds; throws std::invalid_argument.
std::chrono::seconds parse_ttl(const std::string& text) {
  std::size_t used = 0;
  long long n = -1;
  try {
    n = std::stoll(text, &used);
  } catch (const std::exception&) {
  }
  std::string unit = text.substr(used);
  long long scale = unit.empty() || unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : unit == "d" ? 86400 : 0;
  if (n <= 0 || scale == 0 || n > 10LL * 365 * 86400 / scale)
    throw std::invalid_argument("--ttl is a positive duration like 90s, 15m, 1h or 7d (at most 10 years)");
  return std::chrono::seconds(n * scale);
}

std::string from_environment(const std::vector<std::string>& environment, std::string_view name) {
  for (const auto& entry : environment)
    if (entry.size() > name.size() && entry.compare(0, name.size(), name) == 0 && entry[name.size()] == '=')
      return entry.substr(name.size() + 1);
  return {};
}

nlohmann::json parse_json_option(const char* name, const std::string& text) {
  auto doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded()) throw std::invalid_argument(std::string("--") + name + " is not valid JSON");
  return doc;
}

}  // namespace

int run_token_command(int argc, const char* const argv[], const std::vector<std::string>& environment,
                      std::ostream& out, std::ostream& err) {
  std::string user, ttl = "1h", rooms, info, limits, secret, issuer, audience, config_file;
  po::options_description d("Usage: switchboard gentoken --user NAME [options]\n\nMints an HS256 token with the node's HMAC secret");
  // clang-format off
  d.add_options()
    ("help,h", "print this help and exit")
    ("user", po::value(&user), "the token's sub: the user id")
    ("ttl", po::value(&ttl)->default_value(ttl), "lifetime: 90s, 15m, 1h, 7d")
    ("rooms", po::value(&rooms), "rooms claim, JSON, e.g. {\"sub\":[\"chat:*\"],\"pub\":[\"chat:*\"]}")
    ("info", po::value(&info), "info claim (presence info), a JSON object")
    ("limits", po::value(&limits), "limits claim, JSON, e.g. {\"publish_rate\":5000,\"publish_burst\":10000}: "
        "the token's own rate limits, honoured by nodes started with --token-limits")
    ("jwt-secret", po::value(&secret), "HMAC secret (default: SWITCHBOARD_JWT_SECRET, then --config)")
    ("jwt-issuer", po::value(&issuer), "iss claim (default: SWITCHBOARD_JWT_ISSUER, then --config)")
    ("jwt-audience", po::value(&audience), "aud claim (default: SWITCHBOARD_JWT_AUDIENCE, then --config)")
    ("config", po::value(&config_file), "the node's JSON config file, for jwt-secret, jwt-issuer, jwt-audience");
  // clang-format on
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, d), vm);
    po::notify(vm);
    if (vm.count("help")) {
      out << d;
      return 0;
    }
    if (user.empty()) throw std::invalid_argument("--user is required");
    // Flags, then the environment, then the config file: as the node reads them.
    nlohmann::json file;
    if (config_file.empty()) config_file = from_environment(environment, "SWITCHBOARD_CONFIG");
    if (!config_file.empty()) {
      std::ifstream in(config_file);
      if (!in) throw std::invalid_argument("cannot read config file " + config_file);
      file = nlohmann::json::parse(in, nullptr, false);
      if (!file.is_object()) throw std::invalid_argument("config file " + config_file + " is not a JSON object");
    }
    auto pick = [&](std::string& value, std::string_view env, const char* key) {
      if (value.empty()) value = from_environment(environment, env);
      if (value.empty() && file.contains(key) && file[key].is_string()) value = file[key].get<std::string>();
    };
    pick(secret, "SWITCHBOARD_JWT_SECRET", "jwt-secret");
    pick(issuer, "SWITCHBOARD_JWT_ISSUER", "jwt-issuer");
    pick(audience, "SWITCHBOARD_JWT_AUDIENCE", "jwt-audience");
    if (secret.empty())
      throw std::invalid_argument("no HMAC secret: give --jwt-secret, SWITCHBOARD_JWT_SECRET or --config");

    auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
    nlohmann::json claims = {{"sub", user}, {"iat", now.count()}, {"exp", (now + parse_ttl(ttl)).count()}};
    if (!issuer.empty()) claims["iss"] = issuer;
    if (!audience.empty()) claims["aud"] = audience;
    if (!rooms.empty()) {
      claims["rooms"] = parse_json_option("rooms", rooms);
      auth::RoomPermissions::parse(claims["rooms"], user);  // refuses what the node would refuse
    }
    if (!info.empty()) {
      claims["info"] = parse_json_option("info", info);
      if (!claims["info"].is_object()) throw std::invalid_argument("--info must be a JSON object");
    }
    if (!limits.empty()) {
      claims["limits"] = parse_json_option("limits", limits);
      auth::TokenLimits::parse(claims["limits"]);  // refuses what a node with --token-limits would refuse
    }
    out << auth::sign_hs256(secret, claims) << '\n';
    return 0;
  } catch (const std::exception& e) {
    err << "switchboard gentoken: " << e.what() << "\nTry 'switchboard gentoken --help'.\n";
    return 2;
  }
}

}  // namespace switchboard::server
