#pragma once
// Answers the node's plain HTTP requests: /healthz, /readyz, /metrics, /dev/token (dev mode only) and the
// web client's files (demo/, the switchboard.js module and the modules of src/ it imports). /ws (upgrades, and the admission probe without one), /sse and the /api/ endpoints are
// handled by HttpSession and HttpApi before this is consulted.
#include <boost/beast/http.hpp>
#include <atomic>
#include <filesystem>
#include <optional>
#include <string>

#include "switchboard/cluster/Bus.h"
#include "switchboard/server/Config.h"
#include "switchboard/server/Metrics.h"
#include "switchboard/server/RoomRegistry.h"

namespace switchboard::server {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

class HttpRoutes {
 public:
  HttpRoutes(const Config& config, const Metrics& metrics, const RoomRegistry& registry, const cluster::Bus& bus);

  Response handle(const Request& req) const;

  // A draining node answers /readyz with 503 and refuses new WebSockets.
  void set_draining() { draining_ = true; }
  bool draining() const { return draining_; }

  // {"error":{"code":…,"message":…}} with `status`.
  static Response json_error(const Request& req, http::status status, std::string_view code,
                             std::string_view message);
  // A response with `body` and the node's usual headers.
  static Response make_response(const Request& req, http::status status, std::string_view content_type,
                                std::string body);
  // The percent-decoded value of query parameter `name` of `target`; nullopt when absent or
  // when the target is not a valid origin-form.
  static std::optional<std::string> query_parameter(std::string_view target, std::string_view name);

 private:
  Response static_file(const Request& req, std::string_view path) const;
  Response dev_token(const Request& req) const;

  const Config& config_;
  std::filesystem::path static_dir_;  // canonical, or empty when the directory does not exist
  const Metrics& metrics_;
  const RoomRegistry& registry_;
  const cluster::Bus& bus_;
  std::atomic<bool> draining_{false};
};

}  // namespace switchboard::server
