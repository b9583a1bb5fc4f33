// Node-wide limits against floods: connections at once, handshakes per client address, and
// connections that keep sending through their rate_limited errors; tokens' own limits.
#include <gtest/gtest.h>

#include "TestNode.h"
#include "TestToken.h"
#include "WsClient.h"

namespace limits_test {  // this suite's own names: the sanitizer builds compile suites together

using namespace switchboard;
using namespace switchboard::test;
using nlohmann::json;

namespace {

HttpResponse handshake(std::uint16_t port, std::map<std::string, std::string> headers = {}) {
  WsClient::Options opts;
  opts.headers = std::move(headers);
  return WsClient::try_handshake(port, opts);
}

std::string error_code(const HttpResponse& r) {
  return json::parse(r.body, nullptr, false).value("/error/code"_json_pointer, std::string());
}

}  // namespace

TEST(Limits, ConnectionsBeyondTheMaximumAreRefusedWith503) {
  auto config = TestNode::default_config();
  config.max_connections = 3;
  TestNode node(config);
  std::vector<WsClient> clients;
  for (int i = 0; i < 3; ++i) clients.emplace_back(node.port());
  auto refused = handshake(node.port());
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(error_code(refused), "too_many_connections");
  EXPECT_EQ(node.metrics().handshakes_rejected("too_many_connections"), 1u);
  // Plain HTTP is not a WebSocket: it still works.
  EXPECT_EQ(http_get(node.port(), "/healthz").status, 200);
  // A place freed is a place taken again.
  clients.back().close();
  clients.pop_back();
  EXPECT_TRUE(eventually([&] { return handshake(node.port()).status == 101; }));
  // Refused handshakes (bad credentials) do not keep places.
  auto jwt_config = TestNode::default_config();
  jwt_config.allow_anonymous = false;
  jwt_config.jwt_secret = "limits-test-secret-0123456789abcdef";
  jwt_config.max_connections = 1;
  TestNode strict(jwt_config);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(handshake(strict.port()).status, 401);
  EXPECT_EQ(handshake(strict.port(), {{"Authorization", "Bearer nonsense"}}).status, 401);
  EXPECT_EQ(strict.metrics().handshakes_rejected("too_many_connections"), 0u);
}

TEST(Limits, HandshakesPerAddressAreRateLimited) {
  auto config = TestNode::default_config();
  config.handshake_rate_per_ip = 0.001;  // nothing refills during the test
  config.handshake_burst_per_ip = 2;
  TestNode node(config);
  EXPECT_EQ(handshake(node.port()).status, 101);
  EXPECT_EQ(handshake(node.port()).status, 101);
  auto refused = handshake(node.port());
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(error_code(refused), "rate_limited");
  EXPECT_EQ(node.metrics().handshakes_rejected("rate_limited"), 1u);
  // Without --trust-forwarded-for, a client cannot pick its address.
  EXPECT_EQ(handshake(node.port(), {{"X-Forwarded-For", "203.0.113.9"}}).status, 429);
}

TEST(Limits, BehindAProxyTheForwardedAddressCounts) {
  auto config = TestNode::default_config();
  config.handshake_rate_per_ip = 0.001;
  config.handshake_burst_per_ip = 1;
  config.trust_forwarded_for = true;
  TestNode node(config);
  // Everyone comes from the proxy's address (here 127.0.0.1); the proxy says who they are.
  EXPECT_EQ(handshake(node.port(), {{"X-Forwarded-For", "203.0.113.1"}}).status, 101);
  EXPECT_EQ(handshake(node.port(), {{"X-Forwarded-For", "203.0.113.2"}}).status, 101);
  EXPECT_EQ(handshake(node.port(), {{"X-Forwarded-For", "203.0.113.1"}}).status, 429);
  // The last entry is the proxy's own observation; earlier ones are what the client claimed.
  EXPECT_EQ(handshake(node.port(), {{"X-Forwarded-For", "198.51.100.7, 203.0.113.2"}}).status, 429);
  EXPECT_EQ(handshake(node.port(), {{"X-Forwarded-For", "203.0.113.2, 203.0.113.3"}}).status, 101);
}

TEST(Limits, AConnectionThatKeepsSendingThroughRateLimitedIsClosedWith4029) {
  auto config = TestNode::default_config();
  config.publish_rate = 0.001;
  config.publish_burst = 1;
  config.rate_limit_strikes = 5;
  TestNode node(config);
  WsClient flooder(node.port()), bystander(node.port());
  for (int i = 0; i < 10; ++i) flooder.try_send_text(R"({"op":"publish","room":"r","data":1})");
  auto closed = flooder.read_until_closed();
  ASSERT_TRUE(closed.closed);
  EXPECT_EQ(closed.code, 4029);
  EXPECT_GE(node.metrics().errors(protocol::ErrorCode::rate_limited), 5u);
  EXPECT_EQ(node.metrics().closes(4029), 1u);
  // Others are not touched.
  EXPECT_EQ(bystander.request({{"op", "ping"}})["ok"], true);
}

TEST(Limits, AcceptedRequestsInBetweenResetTheCount) {
  auto config = TestNode::default_config();
  config.request_rate = 0.001;
  config.request_burst = 1;
  config.rate_limit_strikes = 3;
  TestNode node(config);
  WsClient c(node.port());
  EXPECT_EQ(c.request({{"op", "ping"}})["ok"], true);  // takes the one token
  for (int i = 0; i < 2; ++i) EXPECT_EQ(c.request({{"op", "ping"}})["error"]["code"], "rate_limited");
  // Publishes have their own bucket (unlimited here): accepted, they end the streak.
  EXPECT_EQ(c.request({{"op", "publish"}, {"room", "r"}, {"data", 1}})["ok"], true);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(c.request({{"op", "ping"}})["error"]["code"], "rate_limited");
  EXPECT_TRUE(c.is_open());
  EXPECT_EQ(c.request({{"op", "ping"}})["error"]["code"], "rate_limited");
  EXPECT_EQ(c.read_until_closed().code, 4029);
}

TEST(Limits, BinaryFramesCountAgainstTheRequestRate) {
  auto config = TestNode::default_config();
  config.request_rate = 0.001;  // nothing refills during the test
  config.request_burst = 3;
  config.rate_limit_strikes = 5;
  TestNode node(config);
  WsClient c(node.port());
  for (int i = 0; i < 3; ++i) {
    c.send_binary("\x01\x02");
    EXPECT_EQ(c.read_json()["error"]["code"], "bad_request");
  }
  // The bucket is empty: binary frames are refused like any request, then the connection closed.
  for (int i = 0; i < 4; ++i) {
    c.send_binary("\x01\x02");
    EXPECT_EQ(c.read_json()["error"]["code"], "rate_limited");
  }
  c.send_binary("\x01\x02");
  auto closed = c.read_until_closed();
  EXPECT_TRUE(closed.closed);
  EXPECT_EQ(closed.code, 4029);
  EXPECT_EQ(node.metrics().errors(protocol::ErrorCode::bad_request), 3u);
  EXPECT_EQ(node.metrics().closes(4029), 1u);
}

namespace {

const std::string kLimitsSecret = "limits-test-secret-0123456789abcdef";

// A node whose own limits are tiny and never refill during a test.
server::Config tight_config(bool token_limits) {
  auto config = TestNode::default_config();
  config.jwt_secret = kLimitsSecret;
  config.token_limits = token_limits;
  config.publish_rate = 0.001;
  config.publish_burst = 10;
  config.request_rate = 0.001;
  config.request_burst = 2;
  config.http_publish_rate_per_user = 0.001;
  config.http_publish_burst = 2;
  return config;
}

WsClient::Options bearer(const std::string& token) {
  WsClient::Options o;
  o.headers["Authorization"] = "Bearer " + token;
  return o;
}

// Publishes `n` messages one after the other: how many were accepted before the first refusal,
// and that refusal (null when none).
std::pair<int, json> publish_until_refused(WsClient& c, int n) {
  for (int i = 0; i < n; ++i) {
    auto reply = c.request({{"op", "publish"}, {"room", "r"}, {"data", i}});
    if (reply.value("ok", false) != true) return {i, reply};
  }
  return {n, nullptr};
}

}  // namespace

TEST(Limits, ATokensLimitsClaimRaisesItsConnectionsLimitsOnANodeThatHonoursIt) {
  const auto service = user_token(kLimitsSecret, "service", {{"limits", {{"publish_burst", 300}, {"request_burst", 20}}}});
  TestNode node(tight_config(true));
  WsClient c(node.port(), bearer(service));
  auto [accepted, refusal] = publish_until_refused(c, 301);
  EXPECT_EQ(accepted, 300);  // thirty times the node's burst
  ASSERT_FALSE(refusal.is_null());
  EXPECT_EQ(refusal["error"]["code"], "rate_limited");
  EXPECT_EQ(refusal["error"]["message"],
            "publishing too fast: this connection may publish 0.001 per second (burst 300, its token's limits claim)");
  for (int i = 0; i < 20; ++i) EXPECT_EQ(c.request({{"op", "ping"}})["ok"], true) << i;
  auto too_many = c.request({{"op", "ping"}});
  EXPECT_EQ(too_many["error"]["message"],
            "too many requests: this connection may make 0.001 requests per second besides publishes (burst 20, its "
            "token's limits claim)");
  // A rate of 0 is unlimited, as for the node's options.
  WsClient unlimited(node.port(), bearer(user_token(kLimitsSecret, "firehose", {{"limits", {{"publish_rate", 0}}}})));
  EXPECT_EQ(publish_until_refused(unlimited, 500).first, 500);
  // Without the claim, the node's limits.
  WsClient plain(node.port(), bearer(user_token(kLimitsSecret, "someone")));
  EXPECT_EQ(publish_until_refused(plain, 11).first, 10);
}

TEST(Limits, WithoutTokenLimitsTheClaimIsIgnoredAndTheRefusalNamesTheNodesLimit) {
  const auto service = user_token(kLimitsSecret, "service", {{"limits", {{"publish_burst", 300}}}});
  TestNode node(tight_config(false));
  WsClient c(node.port(), bearer(service));
  auto [accepted, refusal] = publish_until_refused(c, 301);
  EXPECT_EQ(accepted, 10);
  EXPECT_EQ(refusal["error"]["code"], "rate_limited");
  EXPECT_EQ(refusal["error"]["message"],
            "publishing too fast: this connection may publish 0.001 per second (burst 10, --publish-rate and "
            "--publish-burst); a token's limits claim (on a node with --token-limits) or POST /api/publish allow more");
  for (int i = 0; i < 2; ++i) EXPECT_EQ(c.request({{"op", "ping"}})["ok"], true);
  EXPECT_EQ(c.request({{"op", "ping"}})["error"]["message"],
            "too many requests: this connection may make 0.001 requests per second besides publishes (burst 2, "
            "--request-rate and --request-burst); a token's limits claim (on a node with --token-limits) allows more");
  // Ignored, even when malformed.
  WsClient odd(node.port(), bearer(user_token(kLimitsSecret, "odd", {{"limits", "lots"}})));
  EXPECT_TRUE(odd.is_open());
}

TEST(Limits, AMalformedLimitsClaimRefusesTheToken) {
  TestNode node(tight_config(true));
  for (const json& bad : {json("lots"), json{{"publish_rate", "fast"}}, json{{"publish_rate", -1}},
                          json{{"publish_burst", 0}}, json{{"publish_rate", 10}, {"bogus", 1}}}) {
    auto r = WsClient::try_handshake(node.port(), bearer(user_token(kLimitsSecret, "x", {{"limits", bad}})));
    EXPECT_EQ(r.status, 401) << bad;
    auto body = json::parse(r.body, nullptr, false);
    EXPECT_EQ(body.value("/error/code"_json_pointer, std::string()), "bad_token") << bad;
    EXPECT_NE(body.value("/error/message"_json_pointer, std::string()).find("limits claim"), std::string::npos)
        << r.body;
  }
  EXPECT_EQ(node.metrics().handshakes_rejected("bad_token"), 5u);
}

TEST(Limits, ATokensLimitsClaimAppliesToItsHttpPublishes) {
  TestNode node(tight_config(true));
  auto publish = [&](const std::string& token) {
    return http_request(node.port(), "POST", "/api/publish",
                        {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}},
                        R"({"room":"r","data":1})");
  };
  const auto service = user_token(kLimitsSecret, "service", {{"limits", {{"publish_burst", 5}}}});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(publish(service).status, 200) << i;
  auto refused = publish(service);
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(json::parse(refused.body)["error"]["message"],
            "publishing too fast: this user may publish 0.001 per second (burst 5, the token's limits claim); retry "
            "after the time in Retry-After");
  // The same user's tokens without the claim have the node's bucket, apart.
  const auto plain = user_token(kLimitsSecret, "service");
  for (int i = 0; i < 2; ++i) EXPECT_EQ(publish(plain).status, 200) << i;
  refused = publish(plain);
  EXPECT_EQ(refused.status, 429);
  EXPECT_NE(json::parse(refused.body)["error"]["message"].get<std::string>().find("--http-publish-rate-per-user"),
            std::string::npos);
}

}  // namespace limits_test
