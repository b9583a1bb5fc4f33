#include "http/CrossOrigin.h"

#include "http/AdminRoutes.h"
#include "http/HttpApi.h"

namespace switchboard::server {

namespace {

// How long a browser may keep a preflight's answer (Chromium keeps at most 2 hours).
constexpr std::string_view kPreflightMaxAge = "600";

// The method of a preflighted path, empty for others.
std::string_view method_of(std::string_view path) {
  if (path == "/api/publish") return "POST";
  if (path == "/api/presence" || path == "/api/history" || path == "/sse") return "GET";
  if (path == "/poll") return "GET, DELETE";
  return {};
}

}  // namespace

std::string_view CrossOrigin::route(std::string_view path) {
  if (path == "/ws") return "ws";
  if (path == "/sse") return "sse";
  if (path == "/poll") return "poll";
  if (HttpApi::handles(path)) return "api";
  if (path == "/healthz" || path == "/readyz") return "health";
  if (path == "/metrics") return "metrics";
  if (path == "/dev/token") return "dev_token";
  if (AdminRoutes::handles(path)) return "admin";
  return "files";
}

bool CrossOrigin::shared(std::string_view path) {
  return path == "/sse" || path == "/poll" || path == "/ws" || HttpApi::handles(path) || path == "/switchboard.js" ||
         path == "/switchboard.d.ts" || path.starts_with("/src/");
}

bool CrossOrigin::preflighted(std::string_view path) { return !method_of(path).empty(); }

HttpResponse CrossOrigin::preflight(const HttpRequest& req, std::string_view path) {
  HttpResponse res{http::status::no_content, req.version()};
  res.set(http::field::server, "switchboard");
  res.set(http::field::allow, std::string(method_of(path)) + ", OPTIONS");
  res.keep_alive(req.keep_alive());
  std::string_view origin = req[http::field::origin];
  allow(origin, res);
  if (!origin.empty()) {
    res.set(http::field::access_control_allow_methods, method_of(path));
    res.set(http::field::access_control_allow_headers, "Authorization, Content-Type, Last-Event-ID");
    res.set(http::field::access_control_max_age, kPreflightMaxAge);
    // A page on the public internet asking a node on a private network (Chromium's Private
    // Network Access): the origin is allowed, so is the step.
    if (req["Access-Control-Request-Private-Network"] == "true")
      res.set("Access-Control-Allow-Private-Network", "true");
  }
  return res;  // 204: no body, and no Content-Length (RFC 9110)
}

}  // namespace switchboard::server
