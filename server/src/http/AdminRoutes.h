#pragma once
// The operator dashboard, on only with --admin: the page at /admin (web-client/admin/, static
// files served as the demo's are) and the JSON it polls, GET /admin/api/stats, which answers only
// requests that carry Authorization: Bearer <--admin-key>. The page keeps the key in its tab's
// sessionStorage and sends it from JavaScript: no cookie, so another site's page cannot make a
// browser send it (no CSRF). Only the node's own pages may use these routes: no CORS headers, a
// request with another origin's Origin or with Sec-Fetch-Site cross-site/same-site is refused 403
// cross_site (another site's link to the page itself, a top-level navigation, is let through),
// and every answer forbids framing (Content-Security-Policy frame-ancestors 'none',
// X-Frame-Options DENY). Refusals are counted in /metrics as
// switchboard_http_requests_refused_total{route="admin",reason="unauthorized"|"cross_site"}.
// Without --admin every /admin path answers 404.
#include <chrono>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fanout/RoomRegistry.h"
#include "http/HttpRoutes.h"
#include "observability/Metrics.h"
#include "switchboard/auth/OriginPolicy.h"
#include "switchboard/cluster/Broker.h"
#include "switchboard/cluster/ControlChannel.h"
#include "switchboard/server/Config.h"

namespace switchboard::server {

class AdminRoutes {
 public:
  // Rooms listed by the stats, and how long a listing is reused before the rooms are scanned again.
  static constexpr std::size_t kTopRooms = 20;
  static constexpr std::chrono::milliseconds kTopRoomsMaxAge{1000};

  AdminRoutes(const Config& config, Metrics& metrics, const RoomRegistry& registry, const cluster::Broker& broker);

  // Whether `path` is the dashboard's: /admin or below it.
  static bool handles(std::string_view path);

  // Answers a request for one of the dashboard's paths; `file` answers a path of the web client's
  // files (/admin/index.html, …); `draining`: the node is shutting down.
  HttpResponse handle(const HttpRequest& req, bool draining,
                      const std::function<HttpResponse(std::string_view path)>& file) const;

  // GET /admin/api/stats on a node with a control channel: the stats with every node of the
  // cluster that answers (asked through the channel), answered through `respond` on any thread.
  // Whether a request is that one; set_control before the node serves.
  static bool gathers(const HttpRequest& req);
  void set_control(cluster::ControlChannel* control) { control_ = control; }
  void stats_of_every_node(const HttpRequest& req, bool draining, std::function<void(HttpResponse)> respond) const;
  // This node's line in the stats' "nodes" (and its answer to the control channel's "node" query).
  nlohmann::json node_facts(bool draining) const;

 private:
  HttpResponse answer(const HttpRequest& req, bool draining,
                      const std::function<HttpResponse(std::string_view path)>& file) const;
  bool cross_site(const HttpRequest& req, bool page) const;
  bool authorized(const HttpRequest& req) const;
  // The refusal of a request the dashboard does not serve (another site's, a wrong method, no
  // key); nullopt when it is served.
  std::optional<HttpResponse> refusal(const HttpRequest& req, bool page) const;
  nlohmann::json stats(bool draining) const;
  // The proxy's routes (those configured) and their answers: allowed, denied, unavailable.
  nlohmann::json proxy_health() const;
  // The largest rooms, scanned again when the last scan is older than kTopRoomsMaxAge.
  std::vector<RoomRegistry::RoomSize> top_rooms() const;

  const Config& config_;
  Metrics& metrics_;
  const RoomRegistry& registry_;
  const cluster::Broker& broker_;
  cluster::ControlChannel* control_ = nullptr;
  auth::OriginPolicy own_origin_;  // allows the node's own origin only
  std::string node_id_;            // host name and process id
  std::string instance_;           // random: tells this node's answer from the others' (in one process too)
  std::chrono::steady_clock::time_point started_;
  std::chrono::system_clock::time_point started_at_;

  mutable std::mutex top_rooms_mutex_;  // one scan at a time; dashboards polling meanwhile reuse it
  mutable std::chrono::steady_clock::time_point top_rooms_at_{};
  mutable std::vector<RoomRegistry::RoomSize> top_rooms_;
};

}  // namespace switchboard::server
