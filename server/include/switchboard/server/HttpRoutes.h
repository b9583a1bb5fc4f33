#pragma once
// Answers the node's plain HTTP requests: /healthz, /metrics and the web-client's static files.
// Upgrades to WebSocket at /ws are handled by HttpSession before this is consulted.
#include <boost/beast/http.hpp>
#include <filesystem>
#include <string>

#include "switchboard/server/Metrics.h"
#include "switchboard/server/RoomRegistry.h"

namespace switchboard::server {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

class HttpRoutes {
 public:
  HttpRoutes(const std::filesystem::path& static_dir, const Metrics& metrics, const RoomRegistry& registry);

  Response handle(const Request& req) const;

  // {"error":{"code":…,"message":…}} with `status`.
  static Response json_error(const Request& req, http::status status, std::string_view code,
                             std::string_view message);

 private:
  Response static_file(const Request& req, std::string_view path) const;

  std::filesystem::path static_dir_;  // canonical, or empty when the directory does not exist
  const Metrics& metrics_;
  const RoomRegistry& registry_;
};

}  // namespace switchboard::server
