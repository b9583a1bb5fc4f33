#pragma once
// Answers the node's plain HTTP requests: /healthz, /readyz, /metrics, /dev/token (dev mode only),
// the operator dashboard (/admin, with --admin: AdminRoutes) and the web client's files (demo/, the switchboard.js module and the modules of src/ it imports). /ws (upgrades, and the admission probe without one), /sse and the /api/ endpoints are
// handled by HttpSession and HttpApi before this is consulted.
#include <boost/beast/http.hpp>
#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "fanout/RoomRegistry.h"
#include "observability/Metrics.h"
#include "switchboard/cluster/Broker.h"
#include "switchboard/server/Config.h"

namespace switchboard::server {

namespace http = boost::beast::http;
using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;

class AdminRoutes;

class HttpRoutes {
 public:
  HttpRoutes(const Config& config, Metrics& metrics, const RoomRegistry& registry, const cluster::Broker& broker);
  ~HttpRoutes();

  HttpResponse handle(const HttpRequest& req) const;

  // A draining node answers /readyz with 503 and refuses new WebSockets.
  void set_draining() { draining_ = true; }
  bool draining() const { return draining_; }
  // The operator dashboard's routes, for its answers that wait for the other nodes.
  AdminRoutes& admin() const { return *admin_; }

  // {"error":{"code":…,"message":…}} with `status`.
  static HttpResponse json_error(const HttpRequest& req, http::status status, std::string_view code,
                             std::string_view message);
  // A response with `body` and the node's usual headers.
  static HttpResponse make_response(const HttpRequest& req, http::status status, std::string_view content_type,
                                std::string body);
  // The percent-decoded value of query parameter `name` of `target`; nullopt when absent or
  // when the target is not a valid origin-form.
  static std::optional<std::string> query_parameter(std::string_view target, std::string_view name);

 private:
  HttpResponse static_file(const HttpRequest& req, std::string_view path) const;
  HttpResponse dev_token(const HttpRequest& req) const;

  const Config& config_;
  std::filesystem::path static_dir_;  // canonical, or empty when the directory does not exist
  const Metrics& metrics_;
  const RoomRegistry& registry_;
  const cluster::Broker& broker_;
  std::unique_ptr<AdminRoutes> admin_;
  std::atomic<bool> draining_{false};
};

}  // namespace switchboard::server
