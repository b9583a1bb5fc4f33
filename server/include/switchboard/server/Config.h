#pragma once
// Node configuration: from flags, SWITCHBOARD_* environment variables and an optional
// JSON file (--config). Flags win over the environment, the environment over the file.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "switchboard/cluster/HistoryPolicy.h"
#include "switchboard/cluster/RedisAddress.h"

namespace switchboard::server {

struct Config {
  std::string bind = "0.0.0.0";
  std::uint16_t port = 8080;          // HTTP + ws; 0 picks a free port
  std::uint16_t tls_port = 8443;      // https + wss, only when tls_cert is set; 0 picks a free port
  std::string tls_cert;               // PEM certificate chain file
  std::string tls_key;                // PEM private key file
  unsigned threads = 0;               // 0: one per core
  bool allow_anonymous = false;
  std::string jwt_secret;             // HMAC secret for HS256/384/512 tokens
  std::string jwt_public_key;         // PEM file of a public key (RSA, EC, Ed25519)
  std::string jwks;                   // JWKS file (keys selected by kid)
  std::string jwt_issuer;             // required "iss" when set
  std::string jwt_audience;           // required "aud" member when set
  std::chrono::seconds jwt_leeway{30};
  std::size_t jwt_max_token_bytes = 8192;
  std::string default_rooms;          // JSON grants every token gets besides its own "rooms"
  std::string anonymous_rooms;        // JSON grants of anonymous connections; empty: every room
  std::string api_keys;               // comma-separated keys for the HTTP API (backends)
  bool dev = false;                   // GET /dev/token mints tokens for anyone: local development only
  bool admin = false;                 // the operator dashboard at /admin and its JSON at /admin/api/
  std::string admin_key;              // the dashboard's secret, sent as Authorization: Bearer <key>
  std::string redis;                  // redis://[:password@]host:port[/db]: run as part of a cluster
  std::string redis_sentinel;         // host:port[,…] or redis://[:password@]host:port[,…]: Redis via Sentinel
  std::string redis_cluster;          // redis://[:password@]host:port[,host:port…]: a Redis Cluster's seed nodes
  std::string redis_sentinel_master;  // the name the sentinels monitor the master under
  std::string redis_password;         // the master's password (--redis-sentinel; --redis: when its URL has none)
  unsigned redis_wait_replicas = 0;   // a publish is acked once this many replicas have it (WAIT); 0: off
  std::chrono::milliseconds redis_wait_timeout{200};  // how long that WAIT waits before unavailable
  std::string redis_prefix = "switchboard:";  // of every Redis key and channel of this cluster
  std::chrono::milliseconds node_timeout{6000};  // a silent node's users leave presence after this
  std::size_t history_size = 100;     // messages kept per room for recovery and the history op
  std::chrono::seconds history_ttl{300};  // how long they are kept
  std::string history_rules;          // JSON: per room-name prefix {"size":N,"ttl":seconds}
  std::chrono::seconds idempotency_window{300};  // how long a publish's idem key is remembered; 0: ignored
  std::size_t history_max_bytes = 256 * 1024 * 1024;  // every room's kept messages together (single node); 0: no budget
  std::string allowed_origins;        // browser origins besides the node's own; see auth::OriginPolicy
  std::string static_dir;             // web-client/ files served at /
  std::size_t max_message_size = 64 * 1024;
  std::size_t max_rooms = 100;        // per connection
  std::size_t max_queue_bytes = 1024 * 1024;  // per connection outbound queue
  bool deflate = true;                 // permessage-deflate for the WebSockets that offer it
  std::size_t deflate_threshold = 1024;  // messages this long or longer go compressed
  std::chrono::seconds idle_timeout{60};
  std::chrono::seconds handshake_timeout{10};
  std::chrono::seconds sse_keepalive{15};      // longest silence of a /sse stream
  std::chrono::seconds poll_timeout{25};       // how long a /poll is held when nothing is waiting
  std::chrono::seconds poll_grace{10};         // a poll session lives this long between polls
  std::chrono::seconds write_timeout{10};      // a write to a client under way this long cuts it (4008)
  std::chrono::milliseconds close_timeout{5000};
  std::chrono::milliseconds drain_delay{2000};     // SIGTERM: /readyz 503 this long before closing  // a closing connection that does not read is cut after this
  double publish_rate = 100;          // publishes per second per connection; 0 = unlimited
  double publish_burst = 200;
  double request_rate = 50;           // other requests (subscribe, unsubscribe, presence, ping) per second
  double request_burst = 100;
  double http_publish_rate_per_key = 0;     // POST /api/publish per second per API key; 0 = unlimited
  double http_publish_rate_per_user = 100;  // … per token user
  double http_publish_rate_per_ip = 100;    // … per client address of anonymous callers
  double http_publish_burst = 200;          // publishes at once before the rate applies, for each
  bool token_limits = false;           // a token's "limits" claim replaces the limits above for it
  unsigned rate_limit_strikes = 100;  // consecutive rate_limited refusals before close 4029
  std::size_t max_connections = 0;    // WebSockets at once; 0: the open-file limit less a reserve
  double handshake_rate_per_ip = 0;   // WebSocket handshakes per second per client address; 0: no limit
  double handshake_burst_per_ip = 20;
  bool trust_forwarded_for = false;   // the client address is the last X-Forwarded-For entry (behind a proxy)
  std::string log_level = "info";
  std::string log_format = "text";    // or "json": one JSON object per line
  // Webhooks: events POSTed, signed, to the application's backends (server/src/backend/Webhooks.h).
  std::vector<std::string> webhook_urls;  // http:// or https:// (--webhook-url, repeatable or comma-separated)
  std::string webhook_secret;             // the HMAC-SHA256 key of their signatures
  std::string webhook_events;             // which events, for which rooms (WebhookFilter); empty: all
  std::size_t webhook_queue_size = 10000; // events waiting per URL; more are dropped (queue_full)
  std::chrono::milliseconds webhook_timeout{10000};  // one POST, from its sending to its answer
  std::chrono::seconds webhook_retry_for{300};       // a batch failing this long is given up (gave_up)
  std::string webhook_ca_file;            // PEM CAs trusted for https URLs; empty: the system's
  // The proxy to the application: subscribes and publishes asked of its backend first
  // (server/src/backend/AppProxy.h).
  std::string proxy_connect_url;          // http:// or https://; empty: handshakes are not proxied
  std::string proxy_connect_headers = "Cookie,User-Agent";  // the handshake's headers it is shown
  std::string proxy_subscribe_url;        // http:// or https://; empty: subscribes are not proxied
  std::string proxy_subscribe_rooms;      // RoomPatterns; empty: every room
  std::string proxy_publish_url;
  std::string proxy_publish_rooms;
  std::string proxy_secret;               // the HMAC-SHA256 key of the requests' signatures
  std::chrono::milliseconds proxy_timeout{3000};  // a request's answer, from its sending (waiting included)
  std::size_t proxy_concurrency = 32;     // per route: requests under way at once (4 × more wait)
  std::string proxy_ca_file;              // PEM CAs trusted for https URLs; empty: the system's

  bool tls_enabled() const { return !tls_cert.empty(); }
  bool proxy_enabled() const {
    return !proxy_connect_url.empty() || !proxy_subscribe_url.empty() || !proxy_publish_url.empty();
  }
  bool jwt_enabled() const { return !jwt_secret.empty() || !jwt_public_key.empty() || !jwks.empty(); }
  // The API keys, split and trimmed.
  std::vector<std::string> api_key_list() const;
  bool clustered() const { return !redis.empty() || !redis_sentinel.empty() || !redis_cluster.empty(); }
  // --redis-sentinel's sentinels, in order. Throws std::invalid_argument.
  std::vector<cluster::RedisAddress> sentinel_addresses() const;
  // --redis-cluster's seed nodes, each with the password (of the first URL that gives one, or
  // --redis-password). Throws std::invalid_argument.
  std::vector<cluster::RedisAddress> cluster_seeds() const;
  // --history-size, --history-ttl and --history-rules as a policy. Throws std::invalid_argument.
  cluster::HistoryPolicy history_policy() const;
};

// The outcome of reading the command line: a config to run, or text to print and an exit code.
struct ConfigResult {
  std::optional<Config> config;
  std::string message;  // help text or error
  int exit_code = 0;
};

// Reads flags (argv), the environment (`environ`-style NAME=VALUE strings) and --config.
ConfigResult load_config(int argc, const char* const argv[], const std::vector<std::string>& environment);

// Checks a loaded config for combinations the node cannot run with. Empty when fine.
std::string validate(const Config& config);

}  // namespace switchboard::server
