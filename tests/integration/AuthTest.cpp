// JWT at the handshake: who may connect, and the identity a token gives a connection.
#include <gtest/gtest.h>

#include "TestNode.h"
#include "TestToken.h"
#include "WsClient.h"
#include "switchboard/auth/JwtAuthenticator.h"

namespace auth_test {  // this suite's own names: the sanitizer builds compile suites together

using namespace switchboard;
using namespace switchboard::test;
using nlohmann::json;

namespace {

const std::string kSecret = "integration-test-secret-0123456789abcdef";

std::unique_ptr<auth::Authenticator> jwt_authenticator(bool anonymous_fallback = false) {
  auth::JwtKeySet keys;
  keys.add_hmac_secret("", kSecret);
  std::unique_ptr<auth::Authenticator> fallback;
  if (anonymous_fallback) fallback = std::make_unique<auth::AnonymousAuthenticator>();
  return std::make_unique<auth::JwtAuthenticator>(std::move(keys), auth::JwtOptions{}, std::move(fallback));
}

std::string token_for(const std::string& user, const json& extra = json::object()) {
  return user_token(kSecret, user, extra);
}

WsClient::Options bearer(const std::string& token) {
  WsClient::Options o;
  o.headers["Authorization"] = "Bearer " + token;
  return o;
}

std::string rejection_code(const HttpResponse& r) { return json::parse(r.body)["error"]["code"]; }

}  // namespace

TEST(Auth, TokenGivesTheUserIdAndPresenceInfo) {
  TestNode node(TestNode::default_config(), jwt_authenticator());
  WsClient alice(node.port(), bearer(token_for("alice", {{"info", {{"name", "Alice"}}}})));
  WsClient::Options by_query;
  by_query.target = "/ws?room=x&token=" + token_for("bob");
  WsClient bob(node.port(), by_query);

  EXPECT_EQ(alice.request({{"op", "subscribe"}, {"room", "r"}, {"presence", true}})["ok"], true);
  EXPECT_EQ(alice.read_json(), (json{{"type", "join"}, {"room", "r"}, {"user", "alice"}, {"info", {{"name", "Alice"}}}}));
  bob.request({{"op", "subscribe"}, {"room", "r"}});
  EXPECT_EQ(alice.read_json()["user"], "bob");
  bob.request({{"op", "publish"}, {"room", "r"}, {"data", "hi"}});
  EXPECT_EQ(alice.read_json()["from"], "bob");
}

TEST(Auth, PresenceIsPerUserAcrossConnections) {
  TestNode node(TestNode::default_config(), jwt_authenticator());
  WsClient watcher(node.port(), bearer(token_for("watcher")));
  watcher.request({{"op", "subscribe"}, {"room", "r"}, {"presence", true}});
  EXPECT_EQ(watcher.read_json()["user"], "watcher");

  auto tab1 = std::make_unique<WsClient>(node.port(), bearer(token_for("carol")));
  auto tab2 = std::make_unique<WsClient>(node.port(), bearer(token_for("carol")));
  tab1->request({{"op", "subscribe"}, {"room", "r"}});
  tab2->request({{"op", "subscribe"}, {"room", "r"}});
  EXPECT_EQ(watcher.read_json(), (json{{"type", "join"}, {"room", "r"}, {"user", "carol"}, {"info", json::object()}}));
  json list = watcher.request({{"op", "presence"}, {"room", "r"}});
  EXPECT_EQ(list["users"], (json::array({{{"user", "carol"}, {"info", json::object()}, {"conns", 2}},
                                         {{"user", "watcher"}, {"info", json::object()}, {"conns", 1}}})));
  tab1.reset();  // one tab gone: carol is still here, no event
  EXPECT_TRUE(eventually([&] {
    return node.dispatcher().registry().subscription_count() == 2u;
  }));
  EXPECT_TRUE(watcher.quiet_for(std::chrono::milliseconds(100)));
  tab2->close();  // the last one: carol leaves
  EXPECT_EQ(watcher.read_json(), (json{{"type", "leave"}, {"room", "r"}, {"user", "carol"}, {"info", json::object()}}));
}

TEST(Auth, RefusedHandshakesAre401WithAReasonAndCounted) {
  TestNode node(TestNode::default_config(), jwt_authenticator());
  auto r = WsClient::try_handshake(node.port());
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(rejection_code(r), "missing_token");

  r = WsClient::try_handshake(node.port(), bearer(token_for("late", {{"exp", unix_time(-3600)}})));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(rejection_code(r), "expired");

  r = WsClient::try_handshake(node.port(), bearer(mint_hs256("another-secret", {{"sub", "x"}, {"exp", unix_time(60)}})));
  EXPECT_EQ(rejection_code(r), "bad_signature");

  r = WsClient::try_handshake(node.port(), bearer("not.a.token"));
  EXPECT_EQ(rejection_code(r), "bad_token");

  EXPECT_EQ(node.metrics().handshakes_rejected("missing_token"), 1u);
  EXPECT_EQ(node.metrics().handshakes_rejected("expired"), 1u);
  EXPECT_EQ(node.metrics().handshakes_rejected("bad_signature"), 1u);
  EXPECT_EQ(node.metrics().handshakes_rejected("bad_token"), 1u);
  EXPECT_EQ(node.dispatcher().connection_count(), 0u);
  EXPECT_NE(http_get(node.port(), "/metrics").body.find(
                "switchboard_handshakes_rejected_total{reason=\"expired\"} 1"),
            std::string::npos);
}

TEST(Auth, AnonymousFallbackOnlyForClientsWithoutAToken) {
  TestNode node(TestNode::default_config(), jwt_authenticator(/*anonymous_fallback=*/true));
  WsClient anonymous(node.port());
  anonymous.request({{"op", "subscribe"}, {"room", "r"}, {"presence", true}});
  EXPECT_TRUE(anonymous.read_json()["user"].get<std::string>().starts_with("anon-"));
  // A bad token is refused, not downgraded to anonymous.
  auto r = WsClient::try_handshake(node.port(), bearer(token_for("x", {{"exp", unix_time(-3600)}})));
  EXPECT_EQ(r.status, 401);
  WsClient dave(node.port(), bearer(token_for("dave")));
  dave.request({{"op", "subscribe"}, {"room", "r"}});
  EXPECT_EQ(anonymous.read_json()["user"], "dave");
}

TEST(Auth, BrowserOriginsAreChecked) {
  auto config = TestNode::default_config();
  config.allowed_origins = "https://app.example.com";
  TestNode node(config);
  auto with_origin = [&](const std::string& origin) {
    WsClient::Options o;
    o.headers["Origin"] = origin;
    return WsClient::try_handshake(node.port(), o);
  };
  auto refused = with_origin("https://evil.example");
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(rejection_code(refused), "origin_not_allowed");
  EXPECT_EQ(with_origin("https://app.example.com").status, 101);
  EXPECT_EQ(with_origin("http://127.0.0.1:" + std::to_string(node.port())).status, 101);  // the node's own page
  EXPECT_EQ(WsClient::try_handshake(node.port()).status, 101);  // no Origin: not a browser
  EXPECT_EQ(node.metrics().handshakes_rejected("origin_not_allowed"), 1u);
}

}  // namespace auth_test
