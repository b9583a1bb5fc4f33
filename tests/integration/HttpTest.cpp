// The node's HTTP side: health, metrics, static files, and what the upgrade path refuses.
#include <gtest/gtest.h>

#include "TestNode.h"
#include "WsClient.h"

namespace http_test {  // this suite's own names: the sanitizer builds compile suites together

using namespace switchboard::test;
using nlohmann::json;

TEST(Http, HealthzAnswers200) {
  TestNode node;
  auto r = http_get(node.port(), "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body), (json{{"status", "ok"}}));
  EXPECT_EQ(http_request(node.port(), "HEAD", "/healthz").status, 200);
}

TEST(Http, UnknownPathsAre404WithJsonBody) {
  TestNode node;
  for (const char* path : {"/nope", "/../CMakeLists.txt", "/demo/../../CMakeLists.txt", "/%2e%2e/README.md",
                           "/.git/config", "/demo/", "/package.json", "/test/unit.test.js",
                           "/node_modules/ws/package.json", "/README.md"}) {
    auto r = http_get(node.port(), path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(json::parse(r.body)["error"]["code"], "not_found") << path;
  }
}

TEST(Http, ServesTheDemoPage) {
  TestNode node;
  auto r = http_get(node.port(), "/");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.header("content-type").find("text/html"), std::string::npos);
  EXPECT_NE(r.body.find("<html"), std::string::npos);
}

TEST(Http, ServesTheClientModule) {
  TestNode node;
  auto r = http_get(node.port(), "/switchboard.js");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.header("content-type").find("text/javascript"), std::string::npos);
  EXPECT_EQ(http_get(node.port(), "/demo/app.js").status, 200);
  auto module = http_get(node.port(), "/src/client.js");  // a module switchboard.js imports
  EXPECT_EQ(module.status, 200);
  EXPECT_NE(module.header("content-type").find("text/javascript"), std::string::npos);
}

TEST(Http, WrongMethodAndPlainGetOfWs) {
  TestNode node;
  EXPECT_EQ(http_request(node.port(), "POST", "/healthz", {}, "x").status, 405);
  auto r = http_get(node.port(), "/ws");
  EXPECT_EQ(r.status, 426);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "upgrade_required");
}

TEST(Http, UpgradeOnlyAtWs) {
  TestNode node;
  WsClient::Options o;
  o.target = "/elsewhere";
  EXPECT_EQ(WsClient::try_handshake(node.port(), o).status, 404);
  o.target = "/ws?token=ignored-by-anonymous";
  EXPECT_EQ(WsClient::try_handshake(node.port(), o).status, 101);
}

TEST(Http, OversizeHeadersAreRefused) {
  TestNode node;
  auto r = http_request(node.port(), "GET", "/healthz", {{"X-Big", std::string(16 * 1024, 'a')}});
  EXPECT_EQ(r.status, 413);
}

TEST(Http, MetricsCountWhatHappened) {
  TestNode node;
  {
    WsClient a(node.port());
    a.request({{"op", "subscribe"}, {"room", "m"}});
    a.send_text("garbage");
    a.read_json();
    auto text = http_get(node.port(), "/metrics").body;
    EXPECT_NE(text.find("switchboard_connections 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("switchboard_rooms 1\n"), std::string::npos);
    EXPECT_NE(text.find("switchboard_request_errors_total{code=\"bad_json\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("# TYPE switchboard_deliveries_total counter"), std::string::npos);
  }
  EXPECT_TRUE(eventually([&] { return node.metrics().connections_current.load() == 0; }));
}

}  // namespace http_test
