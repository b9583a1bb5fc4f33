#include "http/AdminRoutes.h"

#include <openssl/crypto.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>

#include "switchboard/auth/JwtAuthenticator.h"
#include "switchboard/cluster/RandomId.h"

#ifndef SWITCHBOARD_VERSION
#define SWITCHBOARD_VERSION "unknown"
#endif

namespace switchboard::server {

namespace {

constexpr std::string_view kAdminPath = "/admin";
constexpr std::string_view kAdminApiPath = "/admin/api/";
constexpr std::string_view kStatsPath = "/admin/api/stats";

bool same_secret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string node_host_name() {
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) != 0) return "localhost";
  return name.data();
}

std::int64_t unix_time_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// Only the node's own pages may show or frame the dashboard, and it runs no script but its own.
void forbid_framing(HttpResponse& res) {
  res.set("Content-Security-Policy",
          "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
          "frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
  res.set("X-Frame-Options", "DENY");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  res.set("Cross-Origin-Resource-Policy", "same-origin");
  res.set("Cross-Origin-Opener-Policy", "same-origin");
  // What the node carries is not for a shared cache, nor for the browser's.
  res.set(http::field::cache_control, "no-store");
}

}  // namespace

AdminRoutes::AdminRoutes(const Config& config, Metrics& metrics, const RoomRegistry& registry,
                         const cluster::Broker& broker)
    : config_(config),
      metrics_(metrics),
      registry_(registry),
      broker_(broker),
      node_id_(node_host_name() + "/" + std::to_string(getpid())),
      instance_(cluster::random_id(8)),
      started_(std::chrono::steady_clock::now()),
      started_at_(std::chrono::system_clock::now()) {}

bool AdminRoutes::handles(std::string_view path) {
  return path == kAdminPath || (path.starts_with(kAdminPath) && path[kAdminPath.size()] == '/');
}

HttpResponse AdminRoutes::handle(const HttpRequest& req, bool draining,
                                 const std::function<HttpResponse(std::string_view path)>& file) const {
  if (!config_.admin)
    return HttpRoutes::json_error(req, http::status::not_found, "not_found", "no such path");
  auto res = answer(req, draining, file);
  forbid_framing(res);
  return res;
}

std::optional<HttpResponse> AdminRoutes::refusal(const HttpRequest& req, bool page) const {
  if (cross_site(req, page)) {
    metrics_.count_http_refused("admin", "cross_site");
    return HttpRoutes::json_error(req, http::status::forbidden, "cross_site",
                                  "the dashboard answers only the node's own pages");
  }
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    auto res = HttpRoutes::json_error(req, http::status::method_not_allowed, "method_not_allowed", "only GET and HEAD");
    res.set(http::field::allow, "GET, HEAD");
    return res;
  }
  if (!page && !authorized(req)) {
    metrics_.count_http_refused("admin", "unauthorized");
    auto res = HttpRoutes::json_error(req, http::status::unauthorized, "unauthorized",
                                      "Authorization: Bearer <the node's --admin-key> is required");
    res.set(http::field::www_authenticate, "Bearer realm=\"switchboard admin\"");
    return res;
  }
  return std::nullopt;
}

HttpResponse AdminRoutes::answer(const HttpRequest& req, bool draining,
                                 const std::function<HttpResponse(std::string_view path)>& file) const {
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  bool api = path.starts_with(kAdminApiPath);
  if (auto refused = refusal(req, !api)) return std::move(*refused);
  if (!api) return file(path == kAdminPath || path == "/admin/" ? "/admin/index.html" : path);
  if (path == kStatsPath)
    return HttpRoutes::make_response(req, http::status::ok, "application/json",
                                     stats(draining).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return HttpRoutes::json_error(req, http::status::not_found, "not_found", "the dashboard's API has GET /admin/api/stats");
}

bool AdminRoutes::gathers(const HttpRequest& req) {
  std::string_view target = req.target();
  return target.substr(0, target.find('?')) == kStatsPath && req.method() == http::verb::get;
}

void AdminRoutes::stats_of_every_node(const HttpRequest& req, bool draining,
                                      std::function<void(HttpResponse)> respond) const {
  auto finish = [](HttpResponse res) {
    forbid_framing(res);
    return res;
  };
  if (!config_.admin || !control_) return respond(finish(handle(req, draining, {})));
  if (auto refused = refusal(req, false)) return respond(finish(std::move(*refused)));
  HttpRequest shape;
  shape.version(req.version());
  shape.keep_alive(req.keep_alive());
  control_->ask({{"op", "node"}}, [this, shape, doc = stats(draining), respond = std::move(respond),
                                   finish](std::vector<nlohmann::json> answers, std::size_t known) mutable {
    // Every node that answered, this one first; this one from here when the channel is down.
    auto nodes = nlohmann::json::array({doc["nodes"][0]});
    std::size_t answered = 0;
    for (auto& node : answers) {
      if (!node.is_object() || !node.contains("id")) continue;
      ++answered;
      if (node.value("instance", "") == instance_) continue;
      node["self"] = false;
      nodes.push_back(std::move(node));
    }
    doc["nodes"] = std::move(nodes);
    doc["other_nodes_shown"] = true;
    doc["nodes_answered"] = answered;
    doc["nodes_known"] = std::max(known, answered);
    respond(finish(HttpRoutes::make_response(shape, http::status::ok, "application/json",
                                             doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))));
  });
}

bool AdminRoutes::cross_site(const HttpRequest& req, bool page) const {
  std::string_view origin = req[http::field::origin];
  if (!origin.empty() && !own_origin_.allows(origin, req[http::field::host])) return true;
  // Fetch metadata (sent by browsers): only the node's own pages, or the operator typing the address.
  std::string_view site = req["Sec-Fetch-Site"];
  if (site.empty() || site == "same-origin" || site == "none") return false;
  // Another site's link to the page opens it in a tab of its own (it cannot be framed) without the key.
  return !(page && req["Sec-Fetch-Mode"] == "navigate" && req["Sec-Fetch-Dest"] == "document");
}

bool AdminRoutes::authorized(const HttpRequest& req) const {
  std::string_view key = auth::JwtAuthenticator::bearer_token(req[http::field::authorization]);
  return !key.empty() && !config_.admin_key.empty() && same_secret(key, config_.admin_key);
}

std::vector<RoomRegistry::RoomSize> AdminRoutes::top_rooms() const {
  std::lock_guard lock(top_rooms_mutex_);
  auto now = std::chrono::steady_clock::now();
  if (top_rooms_at_ == std::chrono::steady_clock::time_point{} || now - top_rooms_at_ >= kTopRoomsMaxAge) {
    top_rooms_ = registry_.largest_rooms(kTopRooms);
    top_rooms_at_ = now;
  }
  return top_rooms_;
}

nlohmann::json AdminRoutes::node_facts(bool draining) const {
  auto broker = broker_.stats();
  bool redis_up = broker_.ready();
  auto uptime = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_);
  return {{"id", node_id_},
          {"instance", instance_},
          {"version", SWITCHBOARD_VERSION},
          {"started_at_ms", unix_time_ms(started_at_)},
          {"uptime_seconds", uptime.count()},
          {"ready", redis_up && !draining},
          {"draining", draining},
          {"redis", broker.clustered ? (redis_up ? "connected" : "unreachable") : "not_used"},
          {"threads", config_.threads},
          {"connections", metrics_.connections_current.load()},
          {"rooms", registry_.room_count()}};
}

nlohmann::json AdminRoutes::proxy_health() const {
  // The routes the node asks the application on, each with its answers.
  nlohmann::json routes = nlohmann::json::object();
  const std::pair<const char*, const std::string*> configured[] = {
      {"subscribe", &config_.proxy_subscribe_url}, {"publish", &config_.proxy_publish_url},
      {"connect", &config_.proxy_connect_url}};
  for (std::size_t route = 0; route < 3; ++route) {
    if (configured[route].second->empty()) continue;
    const auto& n = metrics_.proxy_requests[route];
    routes[configured[route].first] = {
        {"allowed", n[0].load()}, {"denied", n[1].load()}, {"unavailable", n[2].load()}};
  }
  return {{"routes", std::move(routes)}};
}

nlohmann::json AdminRoutes::stats(bool draining) const {
  using nlohmann::json;
  auto broker = broker_.stats();
  json node = node_facts(draining);
  node["self"] = true;
  json top = json::array();
  for (const auto& room : top_rooms()) top.push_back({{"room", room.room}, {"subscribers", room.subscribers}});
  json rejected = json::object();
  for (const auto& [reason, n] : metrics_.handshakes_rejected_by_reason()) rejected[reason] = n;
  json doc = {
      {"time_ms", unix_time_ms(std::chrono::system_clock::now())},
      // This node; the other nodes of its cluster are added by stats_of_every_node, which asks them.
      {"nodes", json::array({node})},
      {"other_nodes_shown", false},
      {"cluster", {{"clustered", broker.clustered}, {"redis_reconnects", broker.reconnects}}},
      {"connections",
       {{"current", metrics_.connections_current.load()},
        {"opened", metrics_.connections_opened.load()},
        {"sse_opened", metrics_.sse_streams_opened.load()},
        {"poll_opened", metrics_.poll_sessions_opened.load()}}},
      {"rooms",
       {{"count", registry_.room_count()},
        {"subscriptions", registry_.subscription_count()},
        {"top", std::move(top)},
        {"top_limit", kTopRooms}}},
      {"totals",
       {{"messages_published", metrics_.messages_published.load()},
        {"deliveries", metrics_.deliveries.load()},
        {"frames_received", metrics_.frames_received.load()},
        {"frames_sent", metrics_.frames_sent.load()},
        {"bytes_received", metrics_.bytes_received.load()},
        {"bytes_sent", metrics_.bytes_sent.load()},
        {"http_requests", metrics_.http_requests.load()}}},
      {"slow_consumers",
       {{"total", metrics_.slow_consumers.load()}, {"write_timeouts", metrics_.write_timeouts.load()}}},
      {"drops",
       {{"slow_consumer", metrics_.deliveries_dropped_slow_consumer.load()},
        {"rate_limited", metrics_.deliveries_dropped_rate_limited.load()}}},
      {"handshakes_rejected", std::move(rejected)},
      {"proxy", proxy_health()},
      {"webhooks",
       {{"urls", config_.webhook_urls.size()},
        {"queued_now", metrics_.webhook_queue_events.load()},
        {"events_delivered", metrics_.webhook_events_delivered.load()},
        {"failures", metrics_.webhook_failures.load()},
        {"dropped",
         {{"queue_full", metrics_.webhook_dropped_queue_full.load()},
          {"gave_up", metrics_.webhook_dropped_gave_up.load()},
          {"rejected", metrics_.webhook_dropped_rejected.load()}}}}},
  };
  return doc;
}

}  // namespace switchboard::server
