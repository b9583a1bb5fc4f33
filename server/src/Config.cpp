#include "switchboard/server/Config.h"

#include <boost/program_options.hpp>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>

#include "backend/HttpClient.h"
#include "backend/RoomPatterns.h"
#include "backend/WebhookFilter.h"
#include "switchboard/auth/RoomPermissions.h"
#include "switchboard/cluster/RedisAddress.h"

namespace switchboard::server {

namespace po = boost::program_options;

namespace {

constexpr const char* kEnvPrefix = "SWITCHBOARD_";
constexpr unsigned kMaxThreads = 1024;  // each I/O thread holds an event loop and its descriptors

// Rates (per second) and bursts (at once) of requests, their defaults shown as written.
struct RateOption {
  const char* name;
  double Config::*field;
  const char* shown;
  const char* help;
};
const RateOption kRateOptions[] = {
    {"publish-rate", &Config::publish_rate, "100", "publishes per second per connection (0: unlimited)"},
    {"publish-burst", &Config::publish_burst, "200", "publishes a connection may make at once before the rate applies"},
    {"request-rate", &Config::request_rate, "50", "other requests (subscribe, unsubscribe, presence, ping, history, refresh) and frames that are not a valid request, per second per connection (0: unlimited)"},
    {"request-burst", &Config::request_burst, "100", "other requests a connection may make at once before the rate applies"},
    {"http-publish-rate-per-key", &Config::http_publish_rate_per_key, "0", "POST /api/publish per second per API key, beyond the burst refused with 429 (0: unlimited)"},
    {"http-publish-rate-per-user", &Config::http_publish_rate_per_user, "100", "POST /api/publish per second per token user (its sub) (0: unlimited)"},
    {"http-publish-rate-per-ip", &Config::http_publish_rate_per_ip, "100", "POST /api/publish per second per client address of anonymous callers (0: unlimited)"},
    {"http-publish-burst", &Config::http_publish_burst, "200", "POST /api/publish one API key, user or address may make at once before its rate applies"},
};

// An option read as a count of seconds or milliseconds: its default and its help.
struct DurationOption {
  const char* name;
  long count;
  const char* help;
};

// Where the node listens, how clients authenticate, the cluster and history, what it serves.
void add_node_options(po::options_description& d, Config& c) {
  // clang-format off
  d.add_options()
    ("help,h", "print this help and exit")
    ("config", po::value<std::string>(), "JSON file of options, keys as the flag names, e.g. {\"port\": 9000}")
    ("bind", po::value(&c.bind)->default_value(c.bind), "address to listen on")
    ("port", po::value(&c.port)->default_value(c.port), "HTTP and ws:// port (0 picks a free one)")
    ("tls-port", po::value(&c.tls_port)->default_value(c.tls_port), "https and wss:// port, used when --tls-cert is set")
    ("tls-cert", po::value(&c.tls_cert), "PEM certificate chain file; enables TLS")
    ("tls-key", po::value(&c.tls_key), "PEM private key file")
    ("threads", po::value(&c.threads)->default_value(c.threads), "I/O threads (0: one per core; at most 1024)")
    ("allow-anonymous", po::value(&c.allow_anonymous)->implicit_value(true)->default_value(false),
        "accept connections without credentials, each with a generated user id")
    ("jwt-secret", po::value(&c.jwt_secret), "HMAC secret verifying HS256/384/512 tokens (prefer the environment variable)")
    ("jwt-public-key", po::value(&c.jwt_public_key), "PEM file of a public key verifying RS/PS/ES/EdDSA tokens")
    ("jwks", po::value(&c.jwks), "JWKS file of verification keys, chosen by the token's kid")
    ("jwt-issuer", po::value(&c.jwt_issuer), "required iss claim")
    ("jwt-audience", po::value(&c.jwt_audience), "required aud claim")
    ("jwt-leeway", po::value<long>()->default_value(c.jwt_leeway.count()), "seconds of clock skew allowed on exp and nbf")
    ("jwt-max-token-bytes", po::value(&c.jwt_max_token_bytes)->default_value(c.jwt_max_token_bytes),
        "largest token accepted, in bytes")
    ("default-rooms", po::value(&c.default_rooms),
        "JSON rooms grant every token gets besides its own rooms claim, e.g. {\"sub\":[\"public:*\"]}")
    ("anonymous-rooms", po::value(&c.anonymous_rooms),
        "JSON rooms grant of anonymous connections (default: every room)")
    ("api-keys", po::value(&c.api_keys),
        "comma-separated keys that backends present as Authorization: Bearer <key> to the HTTP API "
        "(prefer the environment variable)")
    ("redis", po::value(&c.redis),
        "redis://[:password@]host[:port][/db]: join the cluster that shares this Redis (default: run alone)")
    ("redis-sentinel", po::value(&c.redis_sentinel),
        "host:port[,host:port...] of Redis Sentinels (each may be redis://:password@host:port): join the "
        "cluster on the Redis master they name, and follow it across failovers (instead of --redis)")
    ("redis-cluster", po::value(&c.redis_cluster),
        "redis://[:password@]host:port[,host:port...]: seed nodes of a Redis Cluster; join the cluster of nodes "
        "on it, rooms spread over its masters, messages on sharded channels (instead of --redis)")
    ("redis-sentinel-master", po::value(&c.redis_sentinel_master),
        "with --redis-sentinel: the name the sentinels monitor the master under")
    ("redis-password", po::value(&c.redis_password),
        "password of the Redis master with --redis-sentinel, of the Redis Cluster's nodes with --redis-cluster when "
        "its seeds give none, or of --redis when its URL has none "
        "(prefer the environment variable)")
    ("redis-wait-replicas", po::value(&c.redis_wait_replicas)->default_value(c.redis_wait_replicas),
        "in a cluster: ack a publish only once this many Redis replicas have it (WAIT after the publish), "
        "else answer unavailable; keeps acked messages across a failover, at a latency cost (0: off)")
    ("redis-wait-timeout-ms", po::value<long>()->default_value(c.redis_wait_timeout.count()),
        "with --redis-wait-replicas: milliseconds the WAIT for the replicas may take before the publish is "
        "refused with unavailable")
    ("redis-prefix", po::value(&c.redis_prefix)->default_value(c.redis_prefix),
        "prefix of the cluster's Redis channels and keys (clusters sharing one Redis need different ones)")
    ("node-timeout-ms", po::value<long>()->default_value(c.node_timeout.count()),
        "in a cluster: milliseconds after which a node that stopped its heartbeat (crashed) is presumed dead "
        "and its users leave presence (within this plus a third of it)")
    ("history-size", po::value(&c.history_size)->default_value(c.history_size),
        "messages kept per room, so that a client that reconnects gets those it missed (0: none; at most 100000)")
    ("history-ttl", po::value<long>()->default_value(c.history_ttl.count()),
        "seconds a room's messages are kept for recovery")
    ("history-rules", po::value(&c.history_rules),
        "JSON history limits per room-name prefix, longest prefix first, e.g. "
        "{\"chat:\":{\"size\":1000,\"ttl\":3600},\"typing:\":{\"size\":0}}")
    ("idempotency-window", po::value<long>()->default_value(c.idempotency_window.count()),
        "seconds a publish's idem key is remembered: a retry with the same key within it gets the first "
        "publish's ack and is not delivered again (in a cluster, on any node; 0: keys are ignored)")
    ("history-max-bytes", po::value(&c.history_max_bytes)->default_value(c.history_max_bytes),
        "bytes of messages a single node keeps in all its rooms' histories together; past it the oldest "
        "are evicted first (0: no budget; in a cluster, Redis's maxmemory bounds the history)")
    ("dev", po::value(&c.dev)->implicit_value(true)->default_value(false),
        "development mode: GET /dev/token?user=NAME mints a token for anyone. Never in production")
    ("admin", po::value(&c.admin)->implicit_value(true)->default_value(false),
        "serve the operator dashboard at /admin (and its JSON at /admin/api/stats), behind --admin-key")
    ("admin-key", po::value(&c.admin_key),
        "with --admin: the dashboard's secret (16+ characters), typed into its login, sent as "
        "Authorization: Bearer <key> (prefer the environment variable)")
    ("allowed-origins", po::value(&c.allowed_origins),
        "browser origins allowed besides the node's own, comma-separated: "
        "https://app.example.com, https://*.example.com, or * for any; their pages may use WebSockets, "
        "/sse and the HTTP API (CORS), other origins get 403 on every route")
    ("static-dir", po::value(&c.static_dir),
        "directory of web-client files served at / (default: ../share/switchboard/web-client from the "
        "executable's directory, where cmake --install puts them; a build tree links it to web-client/)");
  // clang-format on
}

// The limits of a connection, of an HTTP publisher and of a client address; logs.
void add_limit_options(po::options_description& d, Config& c) {
  // clang-format off
  d.add_options()
    ("max-message-size", po::value(&c.max_message_size)->default_value(c.max_message_size),
        "largest accepted frame in bytes; larger closes with 1009")
    ("max-rooms", po::value(&c.max_rooms)->default_value(c.max_rooms), "rooms one connection may join")
    ("max-queue-bytes", po::value(&c.max_queue_bytes)->default_value(c.max_queue_bytes),
        "outbound bytes queued per connection before it is closed as a slow consumer (4008)")
    ("deflate", po::value(&c.deflate)->implicit_value(true)->default_value(true),
        "compress WebSocket messages (permessage-deflate, no context takeover) for the clients that offer it; "
        "--deflate=false turns it off")
    ("deflate-threshold", po::value(&c.deflate_threshold)->default_value(c.deflate_threshold),
        "bytes from which a message goes compressed to a client that negotiated permessage-deflate "
        "(compressed once per message, whatever the number of subscribers)");
  // clang-format on
  // Durations, as a count of their unit (load_config makes them durations).
  const DurationOption durations[] = {
      {"idle-timeout", c.idle_timeout.count(), "seconds a connection may stay silent: checked every half, it is pinged after a silent half and dropped after one more"},
      {"sse-keepalive", c.sse_keepalive.count(), "longest silence of a /sse stream (a keep-alive comment fills it)"},
      {"poll-timeout", c.poll_timeout.count(), "seconds a /poll is held when nothing is waiting for it, then answered with no events (keep it below the proxies' timeouts)"},
      {"poll-grace", c.poll_grace.count(), "seconds a polling client stays connected between polls: it leaves its rooms when it polls no more for this long"},
      {"write-timeout", c.write_timeout.count(), "seconds a write to a client (WebSocket or /sse stream) may stay under way: a client that takes nothing this long is cut, counted as a 4008 close"},
      {"handshake-timeout", c.handshake_timeout.count(), "seconds allowed for the TLS, HTTP and WebSocket handshakes"},
      {"close-timeout-ms", c.close_timeout.count(), "milliseconds a closing connection gets to take its close frame before it is cut"},
      {"drain-delay-ms", c.drain_delay.count(), "on SIGTERM, milliseconds the node keeps serving its connections with /readyz at 503 and new WebSockets refused, so that a load balancer stops sending clients, before it closes them with 1001"},
  };
  for (const auto& duration : durations)
    d.add_options()(duration.name, po::value<long>()->default_value(duration.count), duration.help);
  for (const auto& rate : kRateOptions)
    d.add_options()(rate.name, po::value(&(c.*rate.field))->default_value(c.*rate.field, rate.shown), rate.help);
  // clang-format off
  d.add_options()
    ("token-limits", po::value(&c.token_limits)->implicit_value(true)->default_value(false),
        "honour a token's \"limits\" claim ({publish_rate, publish_burst, request_rate, request_burst}): "
        "it replaces --publish-rate, --publish-burst, --request-rate and --request-burst for the token's "
        "connections, and --http-publish-rate-per-user and --http-publish-burst for its HTTP publishes; "
        "without it the claim is ignored")
    ("rate-limit-strikes", po::value(&c.rate_limit_strikes)->default_value(c.rate_limit_strikes),
        "requests refused with rate_limited in a row before the connection is closed with 4029 (0: never)")
    ("max-connections", po::value(&c.max_connections)->default_value(c.max_connections),
        "WebSockets, Server-Sent Events streams and long-polling sessions at once; more are refused with 503 at the "
        "handshake "
        "(0: the open-file limit less a reserve of 64)")
    ("handshake-rate-per-ip", po::value(&c.handshake_rate_per_ip)->default_value(c.handshake_rate_per_ip, "0"),
        "WebSocket handshakes, Server-Sent Events streams and long-polling sessions opened per second from one "
        "client address, beyond the burst refused with 429 (0: no limit)")
    ("handshake-burst-per-ip", po::value(&c.handshake_burst_per_ip)->default_value(c.handshake_burst_per_ip, "20"),
        "handshakes one client address may make at once before the rate applies")
    ("trust-forwarded-for", po::value(&c.trust_forwarded_for)->implicit_value(true)->default_value(false),
        "behind a proxy that sets X-Forwarded-For (HAProxy's option forwardfor): take the client address "
        "from its last entry, for the per-address handshake and HTTP publish limits and the logs")
    ("log-level", po::value(&c.log_level)->default_value(c.log_level), "debug, info, warn or error")
    ("log-format", po::value(&c.log_format)->default_value(c.log_format),
        "text, or json: one object per line {\"ts\",\"level\",\"msg\"} for log collectors");
  // clang-format on
}

// Events POSTed to the application's backends.
void add_webhook_options(po::options_description& d, Config& c) {
  // clang-format off
  d.add_options()
    ("webhook-url", po::value(&c.webhook_urls),
        "http:// or https:// URL the node POSTs its events to, in signed JSON batches (repeatable, or "
        "comma-separated; each URL gets every event)")
    ("webhook-secret", po::value(&c.webhook_secret),
        "key of the webhooks' HMAC-SHA256 signatures, 16+ characters (prefer the environment variable)")
    ("webhook-events", po::value(&c.webhook_events),
        "events sent, comma-separated, each optionally for some rooms only (kind@room or kind@prefix*): "
        "room_occupied, room_vacated, member_added, member_removed, connection_opened, connection_closed, "
        "message_published (default: all)")
    ("webhook-queue-size", po::value(&c.webhook_queue_size)->default_value(c.webhook_queue_size),
        "events waiting for delivery per URL; more are dropped and counted (queue_full)")
    ("webhook-timeout-ms", po::value<long>()->default_value(c.webhook_timeout.count()),
        "milliseconds one POST to a webhook may take, from its sending to its answer, before it counts as failed")
    ("webhook-retry-for", po::value<long>()->default_value(c.webhook_retry_for.count()),
        "seconds a failing batch is retried (backoff with jitter, up to 30 s apart) before its events are "
        "dropped and counted (gave_up)")
    ("webhook-ca-file", po::value(&c.webhook_ca_file),
        "PEM file of the CAs trusted for https webhook URLs (default: the system's)");
  // clang-format on
}

// Client requests asked of the application's backend first.
void add_proxy_options(po::options_description& d, Config& c) {
  // clang-format off
  d.add_options()
    ("proxy-connect", po::value(&c.proxy_connect_url),
        "http:// or https:// URL a handshake without a token is POSTed to (its cookies and --proxy-connect-headers): "
        "the application answers who the client is (user, info, rooms, expiry) or refuses it; a handshake with a "
        "token is verified as a JWT")
    ("proxy-connect-headers", po::value(&c.proxy_connect_headers)->default_value(c.proxy_connect_headers),
        "comma-separated headers of the handshake shown to --proxy-connect")
    ("proxy-subscribe", po::value(&c.proxy_subscribe_url),
        "http:// or https:// URL a client's subscribe is POSTed to first (signed JSON): the application allows "
        "it or refuses it (forbidden, with its message)")
    ("proxy-subscribe-rooms", po::value(&c.proxy_subscribe_rooms),
        "rooms whose subscribes go to --proxy-subscribe, comma-separated names or prefixes (chat:*) (default: all)")
    ("proxy-publish", po::value(&c.proxy_publish_url),
        "http:// or https:// URL a client's publish is POSTed to first: the application allows it (optionally "
        "with other data: moderation, enrichment, storing) or refuses it (forbidden, with its message)")
    ("proxy-publish-rooms", po::value(&c.proxy_publish_rooms),
        "rooms whose publishes go to --proxy-publish, comma-separated names or prefixes (default: all)")
    ("proxy-secret", po::value(&c.proxy_secret),
        "key of the proxy requests' HMAC-SHA256 signatures, 16+ characters (prefer the environment variable)")
    ("proxy-timeout-ms", po::value<long>()->default_value(c.proxy_timeout.count()),
        "milliseconds the application has to answer a proxied request (waiting for a connection included); "
        "later, the client's request is answered unavailable")
    ("proxy-concurrency", po::value(&c.proxy_concurrency)->default_value(c.proxy_concurrency),
        "per route, requests to the application under way at once (each on a keep-alive connection); four "
        "times as many may wait, further ones are answered unavailable at once")
    ("proxy-ca-file", po::value(&c.proxy_ca_file),
        "PEM file of the CAs trusted for https proxy URLs (default: the system's)");
  // clang-format on
}

po::options_description describe(Config& c) {
  po::options_description d("Switchboard options (flag, or SWITCHBOARD_<NAME> environment variable, or key in --config)");
  add_node_options(d, c);
  add_limit_options(d, c);
  add_webhook_options(d, c);
  add_proxy_options(d, c);
  return d;
}

// SWITCHBOARD_MAX_ROOMS → max-rooms, for the options that exist; other variables are ignored.
std::string env_to_option(const po::options_description& d, const std::string& env_name) {
  if (env_name.rfind(kEnvPrefix, 0) != 0) return {};
  std::string name = env_name.substr(std::string(kEnvPrefix).size());
  for (char& ch : name) ch = ch == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (name == "help" || name == "config") return name == "config" ? name : std::string{};
  return d.find_nothrow(name, false) ? name : std::string{};
}

po::parsed_options parse_environment(const po::options_description& d, const std::vector<std::string>& env) {
  po::parsed_options parsed(&d);
  for (const auto& entry : env) {
    auto eq = entry.find('=');
    if (eq == std::string::npos) continue;
    std::string name = env_to_option(d, entry.substr(0, eq));
    if (!name.empty()) parsed.options.emplace_back(name, std::vector<std::string>{entry.substr(eq + 1)});
  }
  return parsed;
}

// Entries that may each hold several comma-separated values, one value each, trimmed.
std::vector<std::string> split_list(const std::vector<std::string>& entries) {
  std::vector<std::string> values;
  for (const auto& entry : entries) {
    std::string_view rest = entry;
    while (true) {
      auto comma = rest.find(',');
      std::string_view value = rest.substr(0, comma);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
      if (!value.empty()) values.emplace_back(value);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return values;
}

po::parsed_options parse_config_file(const po::options_description& d, const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read config file " + path);
  nlohmann::json doc = nlohmann::json::parse(in, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    throw std::runtime_error("config file " + path + " is not a JSON object");
  po::parsed_options parsed(&d);
  for (const auto& [key, value] : doc.items()) {
    if (key == "help" || key == "config" || !d.find_nothrow(key, false))
      throw std::runtime_error("config file " + path + ": unknown option \"" + key + "\"");
    // An array of webhook URLs gives the option once per element.
    bool each = key == "webhook-url" && value.is_array();
    for (const auto& item : each ? value : nlohmann::json::array({value})) {
      std::string text = item.is_string() ? item.get<std::string>() : item.dump();
      parsed.options.emplace_back(key, std::vector<std::string>{text});
    }
  }
  return parsed;
}

// Boost reads "-1" into an unsigned option as its largest value (a port of 65535, a queue
// bound of 16 EiB): a count given negative is refused, from every source, before it is stored.
bool takes_count(const po::option_description& option) {
  const po::value_semantic* s = option.semantic().get();
  return dynamic_cast<const po::typed_value<unsigned short>*>(s) || dynamic_cast<const po::typed_value<unsigned>*>(s) ||
         dynamic_cast<const po::typed_value<unsigned long>*>(s) ||
         dynamic_cast<const po::typed_value<unsigned long long>*>(s);
}

po::parsed_options without_negative_counts(po::parsed_options parsed) {
  for (const auto& option : parsed.options) {
    const auto* described = parsed.description->find_nothrow(option.string_key, false);
    if (!described || !takes_count(*described)) continue;
    for (const auto& value : option.value) {
      auto first = value.find_first_not_of(" \t");
      if (first != std::string::npos && value[first] == '-')
        throw std::invalid_argument("--" + option.string_key + " cannot be negative: " + value);
    }
  }
  return parsed;
}

}  // namespace

ConfigResult load_config(int argc, const char* const argv[], const std::vector<std::string>& environment) {
  ConfigResult result;
  Config config;
  auto desc = describe(config);
  try {
    po::variables_map vm;
    po::store(without_negative_counts(po::parse_command_line(argc, argv, desc)), vm);
    if (vm.count("help")) {
      std::ostringstream out;
      out << "Usage: switchboard [options]\n       switchboard gentoken --user NAME [--ttl 1h] [--rooms JSON] [--info JSON]\n\n" << desc;
      result.message = out.str();
      return result;
    }
    po::store(without_negative_counts(parse_environment(desc, environment)), vm);
    if (vm.count("config"))
      po::store(without_negative_counts(parse_config_file(desc, vm["config"].as<std::string>())), vm);
    po::notify(vm);
    config.idle_timeout = std::chrono::seconds(vm["idle-timeout"].as<long>());
    config.handshake_timeout = std::chrono::seconds(vm["handshake-timeout"].as<long>());
    config.sse_keepalive = std::chrono::seconds(vm["sse-keepalive"].as<long>());
    config.poll_timeout = std::chrono::seconds(vm["poll-timeout"].as<long>());
    config.poll_grace = std::chrono::seconds(vm["poll-grace"].as<long>());
    config.write_timeout = std::chrono::seconds(vm["write-timeout"].as<long>());
    config.close_timeout = std::chrono::milliseconds(vm["close-timeout-ms"].as<long>());
    config.jwt_leeway = std::chrono::seconds(vm["jwt-leeway"].as<long>());
    config.node_timeout = std::chrono::milliseconds(vm["node-timeout-ms"].as<long>());
    config.drain_delay = std::chrono::milliseconds(vm["drain-delay-ms"].as<long>());
    config.history_ttl = std::chrono::seconds(vm["history-ttl"].as<long>());
    config.idempotency_window = std::chrono::seconds(vm["idempotency-window"].as<long>());
    config.redis_wait_timeout = std::chrono::milliseconds(vm["redis-wait-timeout-ms"].as<long>());
    config.webhook_timeout = std::chrono::milliseconds(vm["webhook-timeout-ms"].as<long>());
    config.webhook_retry_for = std::chrono::seconds(vm["webhook-retry-for"].as<long>());
    config.webhook_urls = split_list(config.webhook_urls);
    config.proxy_timeout = std::chrono::milliseconds(vm["proxy-timeout-ms"].as<long>());
  } catch (const std::exception& e) {
    result.message = std::string("switchboard: ") + e.what() + "\nTry 'switchboard --help'.\n";
    result.exit_code = 2;
    return result;
  }
  if (auto problem = validate(config); !problem.empty()) {
    result.message = "switchboard: " + problem + "\n";
    result.exit_code = 2;
    return result;
  }
  result.config = std::move(config);
  return result;
}

std::vector<std::string> Config::api_key_list() const {
  std::vector<std::string> keys;
  std::string_view rest = api_keys;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string_view key = rest.substr(0, comma);
    while (!key.empty() && key.front() == ' ') key.remove_prefix(1);
    while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
    if (!key.empty()) keys.emplace_back(key);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return keys;
}

namespace {
// A comma-separated list of Redis addresses, each host:port or redis://[:password@]host:port.
std::vector<cluster::RedisAddress> address_list(std::string_view rest, const std::string& option,
                                                const std::string& usual_port) {
  std::vector<cluster::RedisAddress> addresses;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string entry(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    while (!entry.empty() && entry.front() == ' ') entry.erase(0, 1);
    while (!entry.empty() && entry.back() == ' ') entry.pop_back();
    auto fail = [&](const std::string& why) {
      return std::invalid_argument("--" + option + ": \"" + entry + "\" " + why +
                                   "; expected host:port or redis://[:password@]host:port, comma-separated");
    };
    if (entry.empty()) throw fail("is empty");
    // host:port, [v6]:port: the same as a URL without password.
    std::string url = entry.rfind("redis://", 0) == 0 ? entry : "redis://" + entry;
    cluster::RedisAddress address;
    try {
      address = cluster::RedisAddress::parse(url);
    } catch (const std::invalid_argument&) {
      throw fail("is not an address");
    }
    auto after_host = url.find(']') != std::string::npos ? url.find(']') : url.rfind('@');
    if (url.find(':', after_host == std::string::npos ? 8 : after_host) == std::string::npos)
      throw fail("has no port (" + usual_port + ")");
    if (address.db != 0) throw fail("has a database number (give none)");
    addresses.push_back(std::move(address));
  }
  if (addresses.empty()) throw std::invalid_argument("--" + option + " names no address");
  return addresses;
}
}  // namespace

std::vector<cluster::RedisAddress> Config::sentinel_addresses() const {
  return address_list(redis_sentinel, "redis-sentinel", "Sentinel's is usually 26379");
}

std::vector<cluster::RedisAddress> Config::cluster_seeds() const {
  auto seeds = address_list(redis_cluster, "redis-cluster", "Redis's is usually 6379");
  std::string password = redis_password;
  for (const auto& seed : seeds)
    if (password.empty() && !seed.password.empty()) password = seed.password;
  for (auto& seed : seeds) {
    if (!seed.password.empty() && seed.password != password)
      throw std::invalid_argument("--redis-cluster: the seeds give different passwords (a Redis Cluster has one)");
    seed.password = password;
  }
  return seeds;
}

cluster::HistoryPolicy Config::history_policy() const {
  return cluster::HistoryPolicy::parse({history_size, history_ttl}, history_rules);
}

namespace {
// Empty when `text` is empty or a well-formed rooms grant, else what is wrong.
std::string check_rooms_option(const char* name, const std::string& text) {
  if (text.empty()) return {};
  auto doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded()) return std::string("--") + name + " is not valid JSON";
  try {
    auth::RoomPermissions::parse(doc, "");
  } catch (const std::invalid_argument& e) {
    return std::string("--") + name + ": " + e.what();
  }
  return {};
}
}  // namespace

namespace {
// Empty when the proxy options go together, else what is wrong.
std::string check_proxy(const Config& c) {
  if (!c.proxy_enabled()) {
    if (!c.proxy_secret.empty() || !c.proxy_ca_file.empty())
      return "--proxy-secret and --proxy-ca-file go with --proxy-connect, --proxy-subscribe or --proxy-publish";
  } else if (c.proxy_secret.size() < 16) {
    return "--proxy-connect, --proxy-subscribe and --proxy-publish need --proxy-secret (or SWITCHBOARD_PROXY_SECRET), "
           "at least 16 characters long";
  }
  if (!c.proxy_connect_url.empty())
    if (auto why = HttpClient::check_url(c.proxy_connect_url); !why.empty())
      return "--proxy-connect: \"" + c.proxy_connect_url + "\" " + why;
  for (auto [option, url, rooms] : {std::tuple{"--proxy-subscribe", &c.proxy_subscribe_url, &c.proxy_subscribe_rooms},
                                    std::tuple{"--proxy-publish", &c.proxy_publish_url, &c.proxy_publish_rooms}}) {
    if (url->empty()) {
      if (!rooms->empty()) return std::string(option) + "-rooms goes with " + option;
      continue;
    }
    if (auto why = HttpClient::check_url(*url); !why.empty()) return std::string(option) + ": \"" + *url + "\" " + why;
    try {
      RoomPatterns::parse(*rooms, std::string(option) + "-rooms");
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
  }
  if (c.proxy_timeout.count() < 1 || c.proxy_timeout > std::chrono::minutes(1))
    return "--proxy-timeout-ms must be between 1 and 60000";
  if (c.proxy_concurrency < 1 || c.proxy_concurrency > 1024) return "--proxy-concurrency must be between 1 and 1024";
  return {};
}

// Empty when the webhook options go together, else what is wrong.
std::string check_webhooks(const Config& c) {
  if (c.webhook_urls.empty()) {
    if (!c.webhook_secret.empty() || !c.webhook_events.empty() || !c.webhook_ca_file.empty())
      return "--webhook-secret, --webhook-events and --webhook-ca-file go with --webhook-url";
    return {};
  }
  for (const auto& url : c.webhook_urls)
    if (auto why = HttpClient::check_url(url); !why.empty()) return "--webhook-url: \"" + url + "\" " + why;
  if (c.webhook_secret.size() < 16)
    return "--webhook-url needs --webhook-secret (or SWITCHBOARD_WEBHOOK_SECRET), at least 16 characters long";
  try {
    WebhookFilter::parse(c.webhook_events, c.clustered());
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  if (c.webhook_queue_size == 0) return "--webhook-queue-size must be at least 1";
  if (c.webhook_timeout.count() < 1 || c.webhook_timeout > std::chrono::minutes(10))
    return "--webhook-timeout-ms must be between 1 and 600000";
  if (c.webhook_retry_for.count() < 0 || c.webhook_retry_for > std::chrono::hours(24))
    return "--webhook-retry-for must be between 0 and 86400 seconds";
  return {};
}
}  // namespace

std::string validate(const Config& c) {
  if (!c.allow_anonymous && !c.jwt_enabled() && !c.dev && c.proxy_connect_url.empty())
    return "no way to authenticate clients is configured. Give JWT keys (--jwt-secret, --jwt-public-key "
           "or --jwks), the application's --proxy-connect, or pass --allow-anonymous to accept connections "
           "without credentials.";
  if (c.threads > kMaxThreads) return "--threads must be at most " + std::to_string(kMaxThreads) + " (0: one per core)";
  if (c.jwt_leeway.count() < 0) return "--jwt-leeway must be >= 0";
  if (c.jwt_max_token_bytes < 256 || c.jwt_max_token_bytes > 64 * 1024)
    return "--jwt-max-token-bytes must be between 256 and 65536";
  if (auto problem = check_rooms_option("default-rooms", c.default_rooms); !problem.empty()) return problem;
  if (auto problem = check_rooms_option("anonymous-rooms", c.anonymous_rooms); !problem.empty()) return problem;
  if (!c.redis.empty()) {
    try {
      if (!cluster::RedisAddress::parse(c.redis).password.empty() && !c.redis_password.empty())
        return "--redis has a password and --redis-password gives another: give it once";
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
  }
  if (!c.redis.empty() + !c.redis_sentinel.empty() + !c.redis_cluster.empty() > 1)
    return "--redis, --redis-sentinel and --redis-cluster exclude each other: give one Redis's address, the "
           "sentinels that name the master, or a Redis Cluster's seed nodes";
  if (!c.redis_cluster.empty()) {
    try {
      c.cluster_seeds();
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    if (c.redis_prefix.find_first_of("{}") != std::string::npos)
      return "--redis-prefix must not contain { or } with --redis-cluster (the rooms' names are the keys' hash tags)";
  }
  if (!c.redis_sentinel.empty()) {
    try {
      c.sentinel_addresses();
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    if (c.redis_sentinel_master.empty())
      return "--redis-sentinel needs --redis-sentinel-master, the name the sentinels monitor the master under";
  }
  if (!c.redis_sentinel_master.empty()) {
    if (c.redis_sentinel.empty()) return "--redis-sentinel-master goes with --redis-sentinel";
    if (c.redis_sentinel_master.find_first_of(" \t\r\n") != std::string::npos)
      return "--redis-sentinel-master must not contain spaces";
  }
  if (!c.redis_password.empty() && !c.clustered())
    return "--redis-password goes with --redis, --redis-sentinel or --redis-cluster";
  if (c.redis_wait_replicas > 0) {
    if (!c.clustered()) return "--redis-wait-replicas goes with --redis, --redis-sentinel or --redis-cluster";
    if (c.redis_wait_replicas > 100) return "--redis-wait-replicas must be between 0 and 100";
    if (c.redis_wait_timeout.count() < 1 || c.redis_wait_timeout > c.node_timeout / 4)
      return "--redis-wait-timeout-ms must be between 1 and a quarter of --node-timeout-ms (a WAIT holds up the "
             "node's heartbeat behind it)";
  }
  if (c.history_size > cluster::kMaxHistorySize)
    return "--history-size must be at most " + std::to_string(cluster::kMaxHistorySize);
  if (c.history_ttl.count() < 1) return "--history-ttl must be at least 1 second";
  try {
    c.history_policy();
  } catch (const std::invalid_argument& e) {
    return std::string("--history-rules: ") + e.what();
  }
  if (c.redis_prefix.empty()) return "--redis-prefix must not be empty";
  if (c.idempotency_window.count() < 0 || c.idempotency_window > std::chrono::hours(24))
    return "--idempotency-window must be between 0 and 86400 seconds";
  if (c.drain_delay.count() < 0 || c.drain_delay > std::chrono::minutes(10))
    return "--drain-delay-ms must be between 0 and 600000";
  if (c.node_timeout.count() < 300) return "--node-timeout-ms must be at least 300";
  for (const auto& key : c.api_key_list())
    if (key.size() < 16) return "--api-keys: every key must be at least 16 characters long";
  if (c.admin && c.admin_key.size() < 16)
    return "--admin needs --admin-key (or SWITCHBOARD_ADMIN_KEY), at least 16 characters long";
  if (!c.admin && !c.admin_key.empty()) return "--admin-key goes with --admin";
  if (c.tls_cert.empty() != c.tls_key.empty()) return "--tls-cert and --tls-key go together";
  if (c.max_message_size < 256) return "--max-message-size must be at least 256 bytes";
  if (c.max_rooms == 0) return "--max-rooms must be at least 1";
  if (c.history_max_bytes != 0 && c.history_max_bytes < 2 * c.max_message_size)
    return "--history-max-bytes must be 0 or at least twice --max-message-size";
  if (c.max_queue_bytes < 2 * c.max_message_size)
    return "--max-queue-bytes must be at least twice --max-message-size";
  if (c.idle_timeout.count() <= 0 || c.handshake_timeout.count() <= 0 || c.close_timeout.count() <= 0 ||
      c.sse_keepalive.count() <= 0 || c.write_timeout.count() <= 0 || c.poll_timeout.count() <= 0 ||
      c.poll_grace.count() <= 0)
    return "timeouts must be positive";
  // NaN passes every comparison below, and infinity is no rate: each rate and burst is a finite number.
  for (const auto& rate : kRateOptions)
    if (!std::isfinite(c.*rate.field)) return std::string("--") + rate.name + " must be a finite number";
  if (!std::isfinite(c.handshake_rate_per_ip) || !std::isfinite(c.handshake_burst_per_ip))
    return "--handshake-rate-per-ip and --handshake-burst-per-ip must be finite numbers";
  if (c.publish_rate < 0 || c.publish_burst < 1) return "--publish-rate must be >= 0 and --publish-burst >= 1";
  if (c.handshake_rate_per_ip < 0 || c.handshake_burst_per_ip < 1)
    return "--handshake-rate-per-ip must be >= 0 and --handshake-burst-per-ip >= 1";
  if (c.http_publish_rate_per_key < 0 || c.http_publish_rate_per_user < 0 || c.http_publish_rate_per_ip < 0 ||
      c.http_publish_burst < 1)
    return "--http-publish-rate-per-key, -per-user and -per-ip must be >= 0 and --http-publish-burst >= 1";
  if (c.request_rate < 0 || c.request_burst < 1) return "--request-rate must be >= 0 and --request-burst >= 1";
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" && c.log_level != "error")
    return "--log-level is one of debug, info, warn, error";
  if (c.log_format != "text" && c.log_format != "json") return "--log-format is text or json";
  if (auto problem = check_webhooks(c); !problem.empty()) return problem;
  return check_proxy(c);
}

}  // namespace switchboard::server
