// The operator dashboard (--admin): its page and its JSON (GET /admin/api/stats) only on a node
// that enables it, the JSON only for requests that carry --admin-key, neither for other sites'
// pages; refusals counted in /metrics.
#include <gtest/gtest.h>

#include "FreePort.h"
#include "RedisServer.h"
#include "TestNode.h"
#include "WebhookReceiver.h"
#include "WsClient.h"

namespace admin_test {  // this suite's own names: the sanitizer builds compile suites together

using namespace switchboard;
using namespace switchboard::test;
using nlohmann::json;

namespace {

const std::string kKey = "admin-test-key-0123456789";
const std::string kApp = "http://app.example:8000";

server::Config admin_config() {
  auto c = TestNode::default_config();
  c.admin = true;
  c.admin_key = kKey;
  c.allowed_origins = kApp;  // another origin the node lets use its WebSockets and API, not the dashboard
  return c;
}

HttpResponse stats(std::uint16_t port, std::map<std::string, std::string> headers = {{"Authorization", "Bearer " + kKey}}) {
  return http_request(port, "GET", "/admin/api/stats", headers);
}

std::string code_of(const HttpResponse& r) {
  auto body = json::parse(r.body, nullptr, false);
  return body.is_object() && body.contains("error") ? body["error"]["code"].get<std::string>() : "";
}

}  // namespace

TEST(Admin, IsNotFoundUnlessEnabled) {
  auto config = TestNode::default_config();
  config.api_keys = kKey;
  TestNode node(config);
  for (const char* target : {"/admin", "/admin/", "/admin/index.html", "/admin/admin.js", "/admin/api/stats"}) {
    auto r = http_request(node.port(), "GET", target, {{"Authorization", "Bearer " + kKey}});
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_EQ(code_of(r), "not_found") << target;
  }
  EXPECT_EQ(http_request(node.port(), "POST", "/admin/api/stats").status, 404);
}

TEST(Admin, ServesThePageWithoutTheKeyAndNeverInAFrame) {
  TestNode node(admin_config());
  for (const char* target : {"/admin", "/admin/"}) {
    auto r = http_get(node.port(), target);
    ASSERT_EQ(r.status, 200) << target;
    EXPECT_EQ(r.header("Content-Type"), "text/html; charset=utf-8");
    EXPECT_NE(r.body.find("admin.js"), std::string::npos);
    EXPECT_NE(r.header("Content-Security-Policy").find("frame-ancestors 'none'"), std::string::npos);
    EXPECT_EQ(r.header("X-Frame-Options"), "DENY");
    EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "");
  }
  auto script = http_get(node.port(), "/admin/admin.js");
  EXPECT_EQ(script.status, 200);
  EXPECT_EQ(script.header("X-Frame-Options"), "DENY");
  EXPECT_EQ(http_get(node.port(), "/admin/no-such-file.js").status, 404);
  EXPECT_EQ(http_get(node.port(), "/admin/../demo/index.html").status, 404);
  auto post = http_request(node.port(), "POST", "/admin/api/stats", {{"Authorization", "Bearer " + kKey}});
  EXPECT_EQ(post.status, 405);
}

TEST(Admin, AMissingOrWrongKeyIs401AndCounted) {
  TestNode node(admin_config());
  auto missing = stats(node.port(), {});
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(code_of(missing), "unauthorized");
  EXPECT_NE(missing.header("WWW-Authenticate").find("Bearer"), std::string::npos);
  EXPECT_EQ(missing.header("X-Frame-Options"), "DENY");
  auto wrong = stats(node.port(), {{"Authorization", "Bearer " + kKey + "x"}});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(code_of(wrong), "unauthorized");
  EXPECT_EQ(stats(node.port(), {{"Authorization", kKey}}).status, 401);  // not a Bearer credential
  EXPECT_EQ(wrong.body.find(kKey), std::string::npos);
  EXPECT_EQ(node.metrics().http_refused("admin", "unauthorized"), 3u);
  EXPECT_NE(http_get(node.port(), "/metrics")
                .body.find(R"(switchboard_http_requests_refused_total{route="admin",reason="unauthorized"} 3)"),
            std::string::npos);
  // The API keys of backends are not the dashboard's.
  auto config = admin_config();
  config.api_keys = "backend-key-0123456789abcdef";
  TestNode with_api_keys(config);
  EXPECT_EQ(stats(with_api_keys.port(), {{"Authorization", "Bearer backend-key-0123456789abcdef"}}).status, 401);
  EXPECT_EQ(stats(node.port()).status, 200);
}

TEST(Admin, OtherSitesPagesAreRefused) {
  TestNode node(admin_config());
  std::string own = "http://127.0.0.1:" + std::to_string(node.port());
  // An origin the node allows for its WebSockets and API, with the right key: refused, without CORS.
  auto r = stats(node.port(), {{"Authorization", "Bearer " + kKey}, {"Origin", kApp}});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(code_of(r), "cross_site");
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "");
  // An origin the node does not allow at all: refused before any route.
  r = stats(node.port(), {{"Authorization", "Bearer " + kKey}, {"Origin", "https://evil.example"}});
  EXPECT_EQ(r.status, 403);
  // A browser's fetch from another site, as its fetch metadata says.
  for (const char* site : {"cross-site", "same-site"}) {
    r = stats(node.port(), {{"Authorization", "Bearer " + kKey}, {"Sec-Fetch-Site", site}});
    EXPECT_EQ(r.status, 403) << site;
    EXPECT_EQ(code_of(r), "cross_site") << site;
  }
  // Another site's script or frame loading the page: refused; its link to the page (a navigation): let through.
  r = http_request(node.port(), "GET", "/admin/",
                   {{"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Mode", "no-cors"}, {"Sec-Fetch-Dest", "iframe"}});
  EXPECT_EQ(r.status, 403);
  r = http_request(node.port(), "GET", "/admin/",
                   {{"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Mode", "navigate"}, {"Sec-Fetch-Dest", "document"}});
  EXPECT_EQ(r.status, 200);
  r = stats(node.port(), {{"Authorization", "Bearer " + kKey},
                          {"Sec-Fetch-Site", "cross-site"},
                          {"Sec-Fetch-Mode", "navigate"},
                          {"Sec-Fetch-Dest", "document"}});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(node.metrics().http_refused("admin", "cross_site"), 5u);
  // The node's own page.
  r = stats(node.port(), {{"Authorization", "Bearer " + kKey}, {"Origin", own}, {"Sec-Fetch-Site", "same-origin"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "");
}

TEST(Admin, StatsShowTheNodeItsConnectionsTrafficAndLargestRooms) {
  TestNode node(admin_config());
  std::vector<WsClient> clients;
  // Room i has i subscribers (1…24), the 24th client subscribes to every room.
  for (int n = 0; n < 24; ++n) clients.emplace_back(node.port());
  for (int room = 1; room <= 24; ++room)
    for (int n = 0; n < room; ++n)
      clients[23 - n].request({{"op", "subscribe"}, {"room", "room-" + std::to_string(room)}});
  clients[0].request({{"op", "publish"}, {"room", "room-1"}, {"data", "hello"}});
  EXPECT_EQ(clients[23].read_json()["data"], "hello");  // room-1's one subscriber

  auto r = stats(node.port());
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  EXPECT_EQ(r.header("X-Frame-Options"), "DENY");
  auto doc = json::parse(r.body);
  ASSERT_EQ(doc["nodes"].size(), 1u);
  const auto& self = doc["nodes"][0];
  EXPECT_TRUE(self["self"].get<bool>());
  EXPECT_FALSE(self["id"].get<std::string>().empty());
  EXPECT_FALSE(self["version"].get<std::string>().empty());
  EXPECT_GE(self["uptime_seconds"].get<long>(), 0);
  EXPECT_TRUE(self["ready"].get<bool>());
  EXPECT_FALSE(self["draining"].get<bool>());
  EXPECT_EQ(self["redis"], "not_used");
  EXPECT_EQ(self["connections"], 24);
  EXPECT_TRUE(doc["other_nodes_shown"].get<bool>());
  EXPECT_EQ(doc["nodes_answered"], 1);
  EXPECT_EQ(doc["nodes_known"], 1);
  EXPECT_FALSE(doc["cluster"]["clustered"].get<bool>());
  EXPECT_TRUE(doc["time_ms"].is_number_integer());

  EXPECT_EQ(doc["connections"]["current"], 24);
  EXPECT_EQ(doc["connections"]["opened"], 24);
  EXPECT_EQ(doc["connections"]["sse_opened"], 0);
  EXPECT_EQ(doc["connections"]["poll_opened"], 0);
  EXPECT_EQ(doc["rooms"]["count"], 24);
  EXPECT_EQ(doc["rooms"]["subscriptions"], 24 * 25 / 2);
  const auto& top = doc["rooms"]["top"];
  EXPECT_EQ(doc["rooms"]["top_limit"], 20);
  ASSERT_EQ(top.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(top[i]["room"], "room-" + std::to_string(24 - i));
    EXPECT_EQ(top[i]["subscribers"], 24 - i);
  }
  EXPECT_EQ(doc["totals"]["messages_published"], 1);
  EXPECT_EQ(doc["totals"]["deliveries"], 1);
  for (const char* field : {"frames_received", "frames_sent", "bytes_received", "bytes_sent", "http_requests"})
    EXPECT_TRUE(doc["totals"][field].is_number_unsigned()) << field;
  EXPECT_EQ(doc["slow_consumers"]["total"], 0);
  EXPECT_EQ(doc["slow_consumers"]["write_timeouts"], 0);
  EXPECT_EQ(doc["drops"]["slow_consumer"], 0);
  EXPECT_EQ(doc["drops"]["rate_limited"], 0);
  EXPECT_TRUE(doc["handshakes_rejected"].is_object());

  // A refused handshake shows under its reason.
  WsClientOptions foreign;
  foreign.headers = {{"Origin", "https://evil.example"}};
  EXPECT_EQ(WsClient::try_handshake(node.port(), foreign).status, 403);
  doc = json::parse(stats(node.port()).body);
  EXPECT_EQ(doc["handshakes_rejected"]["origin_not_allowed"], 1);
}

// The webhooks' health: deliveries, and the failures and drops of a backend that is down.
TEST(Admin, WebhooksShowTheirDeliveriesAndFailures) {
  const std::string secret = "admin-test-webhook-secret-0123";
  WebhookReceiver receiver({.secret = secret});
  auto config = admin_config();
  config.webhook_urls = {receiver.url(), "http://127.0.0.1:1/down"};
  config.webhook_secret = secret;
  TestNode node(config);
  auto doc = json::parse(stats(node.port()).body);
  EXPECT_EQ(doc["webhooks"]["urls"], 2);
  WsClient client(node.port());  // connection_opened, to both URLs
  EXPECT_TRUE(receiver.next_report()["verified"].get<bool>());
  EXPECT_TRUE(eventually([&] {
    doc = json::parse(stats(node.port()).body);
    return doc["webhooks"]["events_delivered"].get<long>() >= 1 && doc["webhooks"]["failures"].get<long>() >= 1;
  })) << doc["webhooks"];
  EXPECT_EQ(doc["webhooks"]["dropped"]["queue_full"], 0);
  EXPECT_EQ(doc["webhooks"]["dropped"]["gave_up"], 0);
  EXPECT_GE(doc["webhooks"]["queued_now"].get<long>(), 1);  // waiting for the URL that is down
}

TEST(Admin, ANodeOfAClusterShowsItsRedisAndReadiness) {
  RedisServer redis;
  auto config = cluster_config(redis);
  config.admin = true;
  config.admin_key = kKey;
  TestNode node(config);
  wait_ready(node);
  auto doc = json::parse(stats(node.port()).body);
  EXPECT_TRUE(doc["cluster"]["clustered"].get<bool>());
  EXPECT_EQ(doc["nodes"][0]["redis"], "connected");
  EXPECT_TRUE(doc["nodes"][0]["ready"].get<bool>());
  EXPECT_TRUE(doc["other_nodes_shown"].get<bool>());
  EXPECT_EQ(doc["nodes_answered"], 1);
  redis.stop();
  // Redis gone: the node is not ready, and its dashboard says why.
  ASSERT_TRUE(eventually([&] { return json::parse(stats(node.port()).body)["nodes"][0]["redis"] == "unreachable"; }));
  doc = json::parse(stats(node.port()).body);
  EXPECT_FALSE(doc["nodes"][0]["ready"].get<bool>());
  EXPECT_EQ(doc["nodes"].size(), 1u) << "this node, from here: the others cannot be asked";
}

TEST(Admin, TheProxysRoutesShowTheirAnswers) {
  auto config = admin_config();
  config.proxy_publish_url = "http://127.0.0.1:" + std::to_string(free_port()) + "/proxy/publish";
  config.proxy_secret = "admin-test-proxy-secret-0123456789";
  TestNode node(config);
  WsClient c(node.port());
  EXPECT_EQ(c.request({{"op", "publish"}, {"room", "chat:a"}, {"data", 1}})["error"]["code"], "unavailable");
  auto doc = json::parse(stats(node.port()).body);
  EXPECT_EQ(doc["proxy"]["routes"].size(), 1u) << doc["proxy"];
  EXPECT_EQ(doc["proxy"]["routes"]["publish"]["unavailable"], 1);
  EXPECT_EQ(doc["proxy"]["routes"]["publish"]["allowed"], 0);
}

TEST(Admin, EachNodeOfAClusterShowsEveryNode) {
  RedisServer redis;
  auto config = cluster_config(redis);
  config.admin = true;
  config.admin_key = kKey;
  TestNode a(config), b(config);
  wait_ready(a);
  wait_ready(b);
  WsClient on_b(b.port());
  ASSERT_EQ(on_b.request({{"op", "ping"}})["ok"], true);
  for (TestNode* node : {&a, &b}) {
    json doc;
    // Both nodes answer once each knows the other (its heartbeat in Redis).
    ASSERT_TRUE(eventually([&] {
      doc = json::parse(stats(node->port()).body);
      return doc["nodes"].size() == 2 && doc["nodes_known"] == 2;
    })) << doc.dump();
    EXPECT_EQ(doc["nodes_answered"], 2);
    EXPECT_TRUE(doc["nodes"][0]["self"].get<bool>());
    EXPECT_FALSE(doc["nodes"][1]["self"].get<bool>());
    EXPECT_NE(doc["nodes"][0]["instance"], doc["nodes"][1]["instance"]);
    for (const auto& n : doc["nodes"]) {
      EXPECT_EQ(n["redis"], "connected");
      EXPECT_TRUE(n["ready"].get<bool>());
    }
    // b's client, seen from either node.
    const auto& of_b = doc["nodes"][node == &b ? 0 : 1];
    EXPECT_EQ(of_b["connections"], 1);
  }
}

}  // namespace admin_test
