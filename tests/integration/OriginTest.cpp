// Browser origins on every route: a page of an origin the node does not allow gets 403
// origin_not_allowed wherever it sends a request (a cross-site form or text/plain POST needs no
// preflight); pages of the allowed origins get CORS preflights answered on the HTTP API and
// /sse, and answers they may read.
#include <gtest/gtest.h>

#include "SseClient.h"
#include "TestNode.h"
#include "TestToken.h"
#include "WsClient.h"
#include "switchboard/server/Log.h"

namespace origin_test {  // this suite's own names: the sanitizer builds compile suites together

using namespace switchboard;
using namespace switchboard::test;
using nlohmann::json;

namespace {

const std::string kApp = "http://app.example:8000";
const std::string kEvil = "https://evil.com";
const std::string kSecret = "origin-test-secret-0123456789abcdef";

server::Config allowing_app() {
  auto c = TestNode::default_config();
  c.allowed_origins = kApp;
  return c;
}

std::string code_of(const HttpResponse& r) {
  auto body = json::parse(r.body, nullptr, false);
  return body.is_object() && body.contains("error") ? body["error"]["code"].get<std::string>() : "";
}

HttpResponse from(std::uint16_t port, const std::string& origin, std::string_view method, std::string_view target,
                  std::map<std::string, std::string> headers = {}, std::string body = {}) {
  headers["Origin"] = origin;
  return http_request(port, method, target, headers, std::move(body));
}

}  // namespace

// The reproduction: a text/plain POST, which a page of any site can send without a preflight.
TEST(Origins, ACrossSiteTextPlainPostPublishesNothing) {
  TestNode node;  // --allow-anonymous
  WsClient subscriber(node.port());
  subscriber.request({{"op", "subscribe"}, {"room", "lobby"}});

  auto r = from(node.port(), kEvil, "POST", "/api/publish", {{"Content-Type", "text/plain"}},
                R"({"room":"lobby","data":"csrf"})");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(code_of(r), "origin_not_allowed");
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "");  // the page cannot even read the refusal
  EXPECT_EQ(node.metrics().http_refused("api", "origin_not_allowed"), 1u);
  EXPECT_EQ(node.metrics().messages_published.load(), 0u);

  // Without an Origin (curl, a backend) the same request is served as before.
  r = http_request(node.port(), "POST", "/api/publish", {{"Content-Type", "text/plain"}},
                   R"({"room":"lobby","data":"from a backend"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(subscriber.read_json()["data"], "from a backend");  // the first message of the room
}

TEST(Origins, EveryRouteRefusesAForeignOriginAndCountsIt) {
  auto config = allowing_app();
  config.dev = true;
  TestNode node(config);
  struct Case {
    std::string method, target, route;
  };
  const std::vector<Case> cases = {
      {"GET", "/healthz", "health"},        {"GET", "/readyz", "health"},
      {"GET", "/metrics", "metrics"},       {"GET", "/", "files"},
      {"GET", "/switchboard.js", "files"},  {"GET", "/demo/index.html", "files"},
      {"GET", "/dev/token?user=eve", "dev_token"},
      {"GET", "/api/presence?room=a", "api"}, {"GET", "/api/history?room=a", "api"},
      {"POST", "/api/publish", "api"},      {"OPTIONS", "/api/publish", "api"},
      {"GET", "/api/nothing", "api"},       {"GET", "/sse?rooms=a", "sse"},
      {"OPTIONS", "/sse", "sse"},           {"GET", "/ws", "ws"},
  };
  for (const auto& c : cases) {
    auto refused = from(node.port(), kEvil, c.method, c.target, {{"Content-Type", "text/plain"}},
                        c.method == "POST" ? R"({"room":"a","data":1})" : "");
    EXPECT_EQ(refused.status, 403) << c.method << ' ' << c.target;
    EXPECT_EQ(code_of(refused), "origin_not_allowed") << c.target;
    // Only GET /ws, which exists to say why a WebSocket was refused, lets the page read it.
    EXPECT_EQ(refused.header("Access-Control-Allow-Origin"), c.target == "/ws" ? kEvil : "") << c.target;
    // The same request from an allowed origin, the node's own pages or without Origin is not refused.
    for (const std::string& origin : {kApp, "http://127.0.0.1:" + std::to_string(node.port()), std::string()}) {
      std::map<std::string, std::string> headers;
      if (!origin.empty()) headers["Origin"] = origin;
      int status = 0;
      if (c.method == "GET" && c.route == "sse") {
        status = SseClient(node.port(), c.target, {.headers = headers}).status();  // a stream: its head only
      } else {
        status = http_request(node.port(), c.method, c.target, headers,
                              c.method == "POST" ? R"({"room":"a","data":1})" : "")
                     .status;
      }
      EXPECT_NE(status, 403) << c.method << ' ' << c.target << " from " << origin;
    }
  }
  WsClient::Options evil;
  evil.headers["Origin"] = kEvil;
  auto handshake = WsClient::try_handshake(node.port(), evil);
  EXPECT_EQ(handshake.status, 403);
  EXPECT_EQ(code_of(handshake), "origin_not_allowed");

  EXPECT_EQ(node.metrics().http_refused("api", "origin_not_allowed"), 5u);
  EXPECT_EQ(node.metrics().http_refused("files", "origin_not_allowed"), 3u);
  EXPECT_EQ(node.metrics().http_refused("health", "origin_not_allowed"), 2u);
  EXPECT_EQ(node.metrics().http_refused("metrics", "origin_not_allowed"), 1u);
  EXPECT_EQ(node.metrics().http_refused("dev_token", "origin_not_allowed"), 1u);
  EXPECT_EQ(node.metrics().http_refused("ws", "origin_not_allowed"), 2u);
  EXPECT_EQ(node.metrics().http_refused("sse", "origin_not_allowed"), 2u);
  // Refused WebSocket handshakes and streams are still counted with the other refused handshakes.
  EXPECT_EQ(node.metrics().handshakes_rejected("origin_not_allowed"), 2u);
  EXPECT_NE(http_get(node.port(), "/metrics")
                .body.find("switchboard_http_requests_refused_total{route=\"api\",reason=\"origin_not_allowed\"} 5"),
            std::string::npos);
}

TEST(Origins, PreflightsAreAnsweredForAllowedOriginsOnly) {
  TestNode node(allowing_app());
  std::map<std::string, std::string> asking{{"Access-Control-Request-Method", "POST"},
                                            {"Access-Control-Request-Headers", "authorization,content-type"}};
  auto r = from(node.port(), kApp, "OPTIONS", "/api/publish", asking);
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), kApp);
  EXPECT_EQ(r.header("Access-Control-Allow-Methods"), "POST");
  EXPECT_EQ(r.header("Access-Control-Allow-Headers"), "Authorization, Content-Type, Last-Event-ID");
  EXPECT_EQ(r.header("Access-Control-Max-Age"), "600");
  EXPECT_EQ(r.header("Vary"), "Origin");
  EXPECT_EQ(r.body, "");

  for (std::string target : {"/api/presence", "/api/history", "/sse"}) {
    r = from(node.port(), kApp, "OPTIONS", target + "?room=a", {{"Access-Control-Request-Method", "GET"}});
    EXPECT_EQ(r.status, 204) << target;
    EXPECT_EQ(r.header("Access-Control-Allow-Origin"), kApp) << target;
    EXPECT_EQ(r.header("Access-Control-Allow-Methods"), "GET") << target;
  }
  // Any subdomain pattern, and a page on the public internet asking a private node.
  {
    auto config = TestNode::default_config();
    config.allowed_origins = "https://*.example.com";
    TestNode sub(config);
    r = from(sub.port(), "https://chat.example.com", "OPTIONS", "/sse",
             {{"Access-Control-Request-Method", "GET"}, {"Access-Control-Request-Private-Network", "true"}});
    EXPECT_EQ(r.status, 204);
    EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "https://chat.example.com");
    EXPECT_EQ(r.header("Access-Control-Allow-Private-Network"), "true");
    EXPECT_EQ(from(sub.port(), "https://example.com", "OPTIONS", "/sse").status, 403);
  }

  // Another origin's preflight fails: the browser sends nothing after it.
  r = from(node.port(), kEvil, "OPTIONS", "/api/publish", asking);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "");
  EXPECT_EQ(r.header("Access-Control-Allow-Methods"), "");
  // Without an Origin, OPTIONS says what the path allows, and nothing about CORS.
  r = http_request(node.port(), "OPTIONS", "/api/publish");
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.header("Allow"), "POST, OPTIONS");
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "");
  // Routes that pages of other origins may not read answer no preflight.
  r = from(node.port(), kApp, "OPTIONS", "/metrics", {{"Access-Control-Request-Method", "GET"}});
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "");
}

TEST(Origins, AnswersToAnAllowedOriginNameItOnTheSharedRoutes) {
  auto config = allowing_app();
  config.jwt_secret = kSecret;
  TestNode node(config);
  WsClient subscriber(node.port());
  subscriber.request({{"op", "subscribe"}, {"room", "lobby"}});

  auto r = from(node.port(), kApp, "POST", "/api/publish", {{"Content-Type", "application/json"}},
                R"({"room":"lobby","data":"from the app"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), kApp);
  EXPECT_EQ(r.header("Vary"), "Origin");
  EXPECT_EQ(subscriber.read_json()["data"], "from the app");
  // Refusals too, so that the page can read why.
  r = from(node.port(), kApp, "GET", "/api/history?room=lobby", {{"Authorization", "Bearer not-a-token"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), kApp);
  r = from(node.port(), kApp, "GET", "/api/history?room=lobby");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), kApp);
  r = from(node.port(), kApp, "GET", "/switchboard.js");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), kApp);
  r = from(node.port(), kApp, "GET", "/src/client.js");  // a module switchboard.js imports
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), kApp);

  SseClient stream(node.port(), "/sse?rooms=lobby", {.headers = {{"Origin", kApp}}});
  ASSERT_EQ(stream.status(), 200);
  EXPECT_EQ(stream.header("access-control-allow-origin"), kApp);
  EXPECT_EQ(stream.header("vary"), "Origin");
  EXPECT_EQ(stream.next_json()["type"], "subscribed");
  SseClient refused(node.port(), "/sse?rooms=lobby&token=not-a-token", {.headers = {{"Origin", kApp}}});
  EXPECT_EQ(refused.status(), 401);
  EXPECT_EQ(refused.header("access-control-allow-origin"), kApp);

  // Other routes carry no CORS headers: an allowed page still cannot read /metrics.
  r = from(node.port(), kApp, "GET", "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "");
  // Nor does an answer to a request without Origin (not a browser's).
  r = http_request(node.port(), "GET", "/api/history?room=lobby");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "");
}

// A browser's WebSocket API shows a refused handshake only as close 1006: GET /ws without an
// upgrade tells the page why, as JSON it may read.
TEST(Origins, GetOfTheWebSocketPathSaysWhatAHandshakeWouldBeTold) {
  auto config = TestNode::jwt_config(kSecret);
  config.allowed_origins = kApp;
  TestNode node(config);
  auto r = from(node.port(), kEvil, "GET", "/ws?token=" + user_token(kSecret, "eve"));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(code_of(r), "origin_not_allowed");
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), kEvil);  // this answer only: the page learns why
  r = from(node.port(), kApp, "GET", "/ws?token=" + user_token(kSecret, "kim", json::object(), -60));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(code_of(r), "expired");
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), kApp);
  EXPECT_EQ(code_of(from(node.port(), kApp, "GET", "/ws")), "missing_token");
  EXPECT_EQ(code_of(http_get(node.port(), "/ws?token=not.a.token")), "bad_token");
  r = from(node.port(), kApp, "GET", "/ws?token=" + user_token(kSecret, "kim"));
  EXPECT_EQ(r.status, 426);  // would be admitted
  EXPECT_EQ(code_of(r), "upgrade_required");
  // Probes are not handshakes: neither counted as refused handshakes nor holding a connection.
  EXPECT_EQ(node.metrics().handshakes_rejected("expired"), 0u);
  EXPECT_EQ(node.metrics().connections_current.load(), 0);
}

// Refused handshakes are logged at info level, without their tokens, and at a bounded rate.
TEST(Origins, RefusedHandshakesAreLoggedWithoutTokensAtABoundedRate) {
  auto config = TestNode::jwt_config(kSecret);
  TestNode node(config);
  server::log::set_level("info");
  testing::internal::CaptureStderr();
  WsClient::Options evil;
  evil.headers["Origin"] = kEvil;
  EXPECT_EQ(WsClient::try_handshake(node.port(), evil).status, 403);
  const std::string expired = user_token(kSecret, "kim", json::object(), -60);
  WsClient::Options late;
  late.target = "/ws?token=" + expired;
  for (int i = 0; i < 30; ++i) EXPECT_EQ(WsClient::try_handshake(node.port(), late).status, 401);
  SseClient stream(node.port(), "/sse?rooms=a&token=" + expired);
  EXPECT_EQ(stream.status(), 401);
  std::string log = testing::internal::GetCapturedStderr();
  server::log::set_level("warn");
  EXPECT_NE(log.find("info refused WebSocket handshake from 127.0.0.1 (Origin https://evil.com): 403 origin_not_allowed\n"),
            std::string::npos) << log;
  EXPECT_NE(log.find("info refused WebSocket handshake from 127.0.0.1: 401 expired\n"), std::string::npos) << log;
  EXPECT_EQ(log.find(expired), std::string::npos);
  EXPECT_EQ(log.find("?token"), std::string::npos);
  std::size_t lines = 0;
  for (std::size_t at = log.find("info refused "); at != std::string::npos; at = log.find("info refused ", at + 1)) ++lines;
  EXPECT_GE(lines, 10u);  // the burst
  EXPECT_LT(lines, 32u);  // not one per refusal
  EXPECT_EQ(node.metrics().handshakes_rejected("expired"), 31u);  // every one is still counted
}

}  // namespace origin_test
