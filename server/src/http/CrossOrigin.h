#pragma once
// Browsers on other origins. Every request that carries an `Origin` header (a browser's fetch,
// form, EventSource or WebSocket) is checked against the node's OriginPolicy before it is
// routed, on every route: a page of another site must not be able to publish through a
// visitor's browser (a text/plain POST needs no preflight). The routes a browser page may use
// across origins (the HTTP API, Server-Sent Events, the client module) answer CORS preflights
// for the allowed origins and name the origin in Access-Control-Allow-Origin; others answer
// without CORS headers, so other origins' pages cannot read them. Documented in
// protocol/PROTOCOL.md ("Origins and CORS").
#include <boost/beast/http.hpp>
#include <string_view>

#include "http/HttpRoutes.h"

namespace switchboard::server {

class CrossOrigin {
 public:
  // The route of `path` as /metrics labels it: ws, sse, poll, api, health, metrics, dev_token, admin or files.
  static std::string_view route(std::string_view path);
  // Whether an allowed origin's pages may read the answers of `path` (CORS): the HTTP API, /sse,
  // /poll, /ws (the admission probe) and the client module's files (switchboard.js, its .d.ts, src/).
  static bool shared(std::string_view path);
  // Whether `path` answers CORS preflights (OPTIONS): the HTTP API's endpoints, /sse and /poll.
  static bool preflighted(std::string_view path);
  // The answer to OPTIONS `path` from an origin already allowed: 204 with the CORS headers
  // (none without an Origin header).
  static HttpResponse preflight(const HttpRequest& req, std::string_view path);
  // Marks a response to `origin` (allowed, or empty when the request had none) on a shared route.
  template <class Fields>
  static void allow(std::string_view origin, http::header<false, Fields>& res) {
    res.set(http::field::vary, "Origin");
    if (origin.empty()) return;
    res.set(http::field::access_control_allow_origin, origin);
    res.set(http::field::access_control_expose_headers, "Retry-After");
  }
};

}  // namespace switchboard::server
