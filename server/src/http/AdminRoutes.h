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
#include <string>
#include <string_view>
#include <vector>

#include "fanout/RoomRegistry.h"
#include "http/HttpRoutes.h"
#include "observability/Metrics.h"
#include "switchboard/auth/OriginPolicy.h"
#include "switchboard/cluster/Broker.h"
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

 private:
  HttpResponse answer(const HttpRequest& req, bool draining,
                      const std::function<HttpResponse(std::string_view path)>& file) const;
  bool cross_site(const HttpRequest& req, bool page) const;
  bool authorized(const HttpRequest& req) const;
  std::string stats(bool draining) const;
  // The largest rooms, scanned again when the last scan is older than kTopRoomsMaxAge.
  std::vector<RoomRegistry::RoomSize> top_rooms() const;

  const Config& config_;
  Metrics& metrics_;
  const RoomRegistry& registry_;
  const cluster::Broker& broker_;
  auth::OriginPolicy own_origin_;  // allows the node's own origin only
  std::string node_id_;            // host name and process id
  std::chrono::steady_clock::time_point started_;
  std::chrono::system_clock::time_point started_at_;

  mutable std::mutex top_rooms_mutex_;  // one scan at a time; dashboards polling meanwhile reuse it
  mutable std::chrono::steady_clock::time_point top_rooms_at_{};
  mutable std::vector<RoomRegistry::RoomSize> top_rooms_;
};

}  // namespace switchboard::server
