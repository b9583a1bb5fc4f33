// The proxy to the application: subscribes and publishes asked of a real backend first
// (tests/support/webhook_receiver.py, which checks each call's signature with Python's hmac and
// answers as a chat application would): refusals reach the client as forbidden with the
// application's message, a publish's data replaced by the application is what subscribers get,
// a connection's requests keep their order behind a proxied one, and a backend that is down, slow
// or garbled makes the request unavailable within the timeout while everything else carries on.
#include <gtest/gtest.h>

#include <set>

#include "FreePort.h"
#include "SseClient.h"
#include "TestNode.h"
#include "TestToken.h"
#include "WebhookReceiver.h"
#include "WsClient.h"

namespace proxy_test {  // this suite's own names: the sanitizer builds compile suites together

using namespace switchboard;
using namespace switchboard::test;
using nlohmann::json;

namespace {

const std::string kSecret = "proxy-test-secret-0123456789";

server::Config proxied(const WebhookReceiver& backend) {
  auto c = TestNode::default_config();
  c.proxy_subscribe_url = backend.url("/proxy/subscribe");
  c.proxy_publish_url = backend.url("/proxy/publish");
  c.proxy_secret = kSecret;
  return c;
}

json subscribe(WsClient& c, const std::string& room) { return c.request({{"op", "subscribe"}, {"room", room}}); }
json publish(WsClient& c, const std::string& room, const json& data) {
  return c.request({{"op", "publish"}, {"room", room}, {"data", data}});
}
std::string error_code(const json& reply) { return reply.contains("error") ? reply["error"]["code"].get<std::string>() : ""; }

// The backend's report of the next call, checked as signed.
json next_call(WebhookReceiver& backend) {
  json report = backend.next_report();
  EXPECT_TRUE(report["verified"].get<bool>()) << report.dump();
  return report;
}

std::uint64_t proxied_count(TestNode& node, std::size_t route, std::size_t result) {
  return node.metrics().proxy_requests[route][result].load();
}
constexpr std::size_t kSubscribe = 0, kPublish = 1, kAllowed = 0, kDenied = 1, kUnavailable = 2;

}  // namespace

TEST(Proxy, TheApplicationAllowsOrRefusesASubscribeWithItsMessage) {
  WebhookReceiver backend({.secret = kSecret});
  TestNode node(proxied(backend));
  WsClient alice(node.port());

  json refused = subscribe(alice, "secret:plans");
  EXPECT_EQ(error_code(refused), "forbidden") << refused.dump();
  EXPECT_EQ(refused["error"]["message"], "members only");
  json call = next_call(backend);
  EXPECT_EQ(call["path"], "/proxy/subscribe");
  EXPECT_EQ(call["request"]["room"], "secret:plans");
  EXPECT_EQ(call["request"]["presence"], false);
  EXPECT_TRUE(call["request"]["connection"].is_number_integer()) << "the node's number, as in the webhooks";
  EXPECT_TRUE(call["request"]["user"].is_string());

  EXPECT_EQ(subscribe(alice, "chat:lobby")["ok"], true);
  EXPECT_EQ(next_call(backend)["request"]["room"], "chat:lobby");
  EXPECT_TRUE(publish(alice, "chat:lobby", "in").contains("offset"));
  EXPECT_EQ(alice.read_json()["data"], "in") << "subscribed once the application allowed it";
  EXPECT_EQ(next_call(backend)["path"], "/proxy/publish");
  // Subscribing again without presence is not asked; adding presence is.
  EXPECT_EQ(subscribe(alice, "chat:lobby")["ok"], true);
  EXPECT_THROW(backend.next_report(std::chrono::milliseconds(0)), std::runtime_error);
  EXPECT_EQ(alice.request({{"op", "subscribe"}, {"room", "chat:lobby"}, {"presence", true}})["ok"], true);
  json with_presence = next_call(backend);
  EXPECT_EQ(with_presence["request"]["room"], "chat:lobby");
  EXPECT_EQ(with_presence["request"]["presence"], true);
  EXPECT_EQ(proxied_count(node, kSubscribe, kAllowed), 2u);
  EXPECT_EQ(proxied_count(node, kSubscribe, kDenied), 1u);
}

TEST(Proxy, PublishesAreModeratedOrReplacedAndKeepTheirOrder) {
  WebhookReceiver backend({.secret = kSecret});
  TestNode node(proxied(backend));
  WsClient reader(node.port());
  ASSERT_EQ(subscribe(reader, "stamped:chat")["ok"], true);
  next_call(backend);  // reader's subscribe
  WsClient writer(node.port());
  // Sent at once, without waiting for the answers: each waits for the application in turn.
  for (int i = 1; i <= 5; ++i) {
    json data = {{"n", i}, {"text", i == 3 ? "oh darn" : "hello"}};
    writer.send_json({{"op", "publish"}, {"id", i}, {"room", "stamped:chat"}, {"data", data}});
  }
  for (int i = 1; i <= 5; ++i) {
    json reply = writer.read_json();
    EXPECT_EQ(reply["id"], i) << "acks in the order of the publishes";
    if (i == 3) {
      EXPECT_EQ(error_code(reply), "forbidden") << reply.dump();
      EXPECT_EQ(reply["error"]["message"], "watch your language");
    } else {
      EXPECT_TRUE(reply.contains("offset")) << reply.dump();
    }
  }
  // The subscriber got what the application made of the four allowed, in order.
  for (int expected : {1, 2, 4, 5}) {
    json message = reader.read_json();
    EXPECT_EQ(message["data"]["text"]["n"], expected) << message.dump();
    EXPECT_EQ(message["data"]["stamped"], expected < 3 ? expected : expected - 1) << message.dump();
  }
  for (int i = 1; i <= 5; ++i) {
    json call = next_call(backend);
    EXPECT_EQ(call["path"], "/proxy/publish");
    EXPECT_EQ(call["request"]["data"]["n"], i) << "the application is asked in the order of the publishes";
  }
  EXPECT_EQ(proxied_count(node, kPublish, kAllowed), 4u);
  EXPECT_EQ(proxied_count(node, kPublish, kDenied), 1u);
  EXPECT_EQ(node.metrics().errors(protocol::ErrorCode::forbidden), 1u);
}

TEST(Proxy, RequestsBehindAProxiedOneWaitTheirTurn) {
  WebhookReceiver backend({.secret = kSecret, .delay_ms = 200});
  auto config = proxied(backend);
  config.proxy_publish_rooms = "slow:*";
  TestNode node(config);
  WsClient reader(node.port());
  ASSERT_EQ(subscribe(reader, "slow:a")["ok"], true);
  next_call(backend);
  ASSERT_EQ(subscribe(reader, "fast:b")["ok"], true);
  WsClient writer(node.port());
  // The second publish is not the application's, but comes after one that is: it waits its turn.
  writer.send_json({{"op", "publish"}, {"id", 1}, {"room", "slow:a"}, {"data", "first"}});
  writer.send_json({{"op", "publish"}, {"id", 2}, {"room", "fast:b"}, {"data", "second"}});
  EXPECT_EQ(reader.read_json()["data"], "first");
  EXPECT_EQ(reader.read_json()["data"], "second");
  std::set<int> acked;
  for (int i = 0; i < 2; ++i) {
    json ack = writer.read_json();
    EXPECT_TRUE(ack.contains("offset")) << ack.dump();
    acked.insert(ack["id"].get<int>());
  }
  EXPECT_EQ(acked, (std::set<int>{1, 2}));
}

TEST(Proxy, OnlyTheRoomsOfARouteAreAsked) {
  WebhookReceiver backend({.secret = kSecret});
  auto config = proxied(backend);
  config.proxy_subscribe_rooms = "secret:*";
  config.proxy_publish_rooms = "stamped:*, moderated";
  TestNode node(config);
  WsClient c(node.port());
  EXPECT_EQ(subscribe(c, "chat:lobby")["ok"], true);
  EXPECT_TRUE(publish(c, "chat:lobby", "oh darn").contains("offset")) << "chat:lobby is not the application's";
  EXPECT_EQ(c.read_json()["data"], "oh darn");
  EXPECT_THROW(backend.next_report(std::chrono::milliseconds(0)), std::runtime_error) << "the backend was asked nothing";
  EXPECT_EQ(error_code(publish(c, "moderated", "darn")), "forbidden");
  EXPECT_EQ(next_call(backend)["request"]["room"], "moderated");
}

TEST(Proxy, AnApplicationThatIsDownSlowOrGarbledMakesTheRequestUnavailable) {
  WebhookReceiver hanging({.secret = kSecret, .hang = true});
  auto config = proxied(hanging);
  config.proxy_timeout = std::chrono::milliseconds(300);
  config.proxy_publish_rooms = "slow:*";
  config.proxy_subscribe_url = "http://127.0.0.1:" + std::to_string(free_port()) + "/nobody-listens";
  config.proxy_subscribe_rooms = "down:*";
  TestNode node(config);
  WsClient c(node.port());
  WsClient other(node.port());
  ASSERT_EQ(subscribe(other, "chat:lobby")["ok"], true);

  json slow = publish(c, "slow:room", "hi");
  EXPECT_EQ(error_code(slow), "unavailable") << slow.dump();
  EXPECT_EQ(hanging.next_report()["request"]["room"], "slow:room") << "the backend had it, and never answered";
  json down = subscribe(c, "down:room");
  EXPECT_EQ(error_code(down), "unavailable") << down.dump();
  // The rest of the node carries on, for this connection and the others.
  EXPECT_TRUE(publish(c, "chat:lobby", "still here").contains("offset"));
  EXPECT_EQ(other.read_json()["data"], "still here");
  EXPECT_EQ(proxied_count(node, kPublish, kUnavailable), 1u);
  EXPECT_EQ(proxied_count(node, kSubscribe, kUnavailable), 1u);
  EXPECT_EQ(node.metrics().errors(protocol::ErrorCode::unavailable), 2u);

  WebhookReceiver garbling({.secret = kSecret});
  auto garbled_config = proxied(garbling);
  TestNode garbled(garbled_config);
  WsClient g(garbled.port());
  EXPECT_EQ(error_code(publish(g, "garbled:room", "hi")), "unavailable");
  EXPECT_EQ(proxied_count(garbled, kPublish, kUnavailable), 1u);
}

TEST(Proxy, AClientsHttpPublishIsAskedAndABackendsIsNot) {
  WebhookReceiver backend({.secret = kSecret});
  auto config = proxied(backend);
  config.api_keys = "proxy-test-api-key-0123456789";
  TestNode node(config);
  WsClient reader(node.port());
  ASSERT_EQ(subscribe(reader, "stamped:news")["ok"], true);
  next_call(backend);
  auto post = [&](const std::string& bearer, const std::string& body) {
    std::map<std::string, std::string> headers{{"Content-Type", "application/json"}};
    if (!bearer.empty()) headers["Authorization"] = "Bearer " + bearer;
    return http_request(node.port(), "POST", "/api/publish", headers, body);
  };
  // An anonymous client's publish: asked, and refused with the application's message.
  auto refused = post("", R"({"room":"stamped:news","data":"darn"})");
  EXPECT_EQ(refused.status, 403);
  EXPECT_NE(refused.body.find("watch your language"), std::string::npos) << refused.body;
  EXPECT_EQ(next_call(backend)["request"]["data"], "darn");
  auto allowed = post("", R"({"room":"stamped:news","data":"hello"})");
  EXPECT_EQ(allowed.status, 200) << allowed.body;
  next_call(backend);
  json message = reader.read_json();
  EXPECT_EQ(message["data"]["text"], "hello");
  EXPECT_EQ(message["data"]["stamped"], 1);
  // A backend's publish (an API key) is the application's own: not asked.
  auto own = post(config.api_keys, R"({"room":"stamped:news","data":"darn it"})");
  EXPECT_EQ(own.status, 200) << own.body;
  EXPECT_EQ(reader.read_json()["data"], "darn it");
  EXPECT_THROW(backend.next_report(std::chrono::milliseconds(0)), std::runtime_error);
}

namespace {
server::Config connecting(const WebhookReceiver& backend) {
  auto c = TestNode::jwt_config("proxy-test-jwt-secret-0123456789");
  c.proxy_connect_url = backend.url("/proxy/connect");
  c.proxy_secret = kSecret;
  return c;
}
WsClient::Options with_cookie(const std::string& cookie, const std::string& target = "/ws") {
  WsClient::Options o;
  o.target = target;
  o.headers["Cookie"] = cookie;
  return o;
}
}  // namespace

TEST(ProxyConnect, TheApplicationSaysWhoACookiesClientIs) {
  WebhookReceiver backend({.secret = kSecret});
  TestNode node(connecting(backend));
  WsClient alice(node.port(), with_cookie("theme=dark; session=alice", "/ws?lang=pt"));
  json call = next_call(backend);
  EXPECT_EQ(call["path"], "/proxy/connect");
  EXPECT_EQ(call["request"]["transport"], "websocket");
  EXPECT_EQ(call["request"]["headers"]["cookie"], "theme=dark; session=alice");
  EXPECT_EQ(call["request"]["query"], "lang=pt");
  EXPECT_EQ(call["request"]["remote"], "127.0.0.1");

  // The identity is the application's: its user, its info in presence, its room grants.
  ASSERT_EQ(alice.request({{"op", "subscribe"}, {"room", "chat:lobby"}, {"presence", true}})["ok"], true);
  json presence = alice.request({{"op", "presence"}, {"room", "chat:lobby"}});
  ASSERT_EQ(presence["users"].size(), 1u) << presence.dump();
  EXPECT_EQ(presence["users"][0]["user"], "alice");
  EXPECT_EQ(presence["users"][0]["info"]["name"], "Alice");
  EXPECT_TRUE(publish(alice, "chat:lobby", "hi").contains("offset"));
  json message = alice.read_json();
  while (!message.contains("data")) message = alice.read_json();  // past alice's own join
  EXPECT_EQ(message["from"], "alice");
  EXPECT_EQ(error_code(publish(alice, "ops", "hi")), "forbidden") << "outside the application's grants";
  EXPECT_EQ(proxied_count(node, 2, kAllowed), 1u);
}

TEST(ProxyConnect, TheApplicationsRefusalIsTheHandshakesAnswer) {
  WebhookReceiver backend({.secret = kSecret});
  TestNode node(connecting(backend));
  auto anonymous = WsClient::try_handshake(node.port());
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_NE(anonymous.body.find("sign in first"), std::string::npos) << anonymous.body;
  auto banned = WsClient::try_handshake(node.port(), with_cookie("session=banned"));
  EXPECT_EQ(banned.status, 403);
  EXPECT_NE(banned.body.find("banned"), std::string::npos) << banned.body;
  EXPECT_EQ(node.metrics().handshakes_rejected("denied"), 2u);
  EXPECT_EQ(proxied_count(node, 2, kDenied), 2u);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(next_call(backend)["request"]["transport"], "websocket");
  // Asking why without an upgrade checks only the node's own limits: the application decides at the handshake.
  EXPECT_EQ(http_get(node.port(), "/ws").status, 426);
  EXPECT_EQ(proxied_count(node, 2, kDenied), 2u);
  // A stream too.
  SseClient::Options o;
  o.headers["Cookie"] = "session=bob";
  SseClient stream(node.port(), "/sse?rooms=chat:lobby", o);
  EXPECT_EQ(stream.status(), 200);
  EXPECT_EQ(next_call(backend)["request"]["transport"], "sse");
  // And a long-polling session's first poll.
  // A poll of a session this node does not know opens one: the session's id and position are not shown.
  EXPECT_EQ(http_request(node.port(), "GET", "/poll?session=gone&ack=2&lang=pt", {{"Cookie", "session=carol"}}).status,
            200);
  json poll = next_call(backend);
  EXPECT_EQ(poll["request"]["transport"], "poll");
  EXPECT_EQ(poll["request"]["query"], "lang=pt");
  EXPECT_EQ(http_request(node.port(), "GET", "/poll").status, 401);
}

TEST(ProxyConnect, ATokenIsVerifiedAsAJwtAndTheApplicationIsNotAsked) {
  WebhookReceiver backend({.secret = kSecret});
  TestNode node(connecting(backend));
  WsClient::Options o = with_cookie("session=alice");
  o.headers["Authorization"] = "Bearer " + user_token("proxy-test-jwt-secret-0123456789", "tokened");
  WsClient c(node.port(), o);
  EXPECT_TRUE(publish(c, "anywhere", "x").contains("offset"));
  EXPECT_THROW(backend.next_report(std::chrono::milliseconds(0)), std::runtime_error);
  auto bad = WsClient::try_handshake(node.port(), [] {
    WsClient::Options bad;
    bad.target = "/ws?token=not.a.token";
    bad.headers["Cookie"] = "session=alice";
    return bad;
  }());
  EXPECT_EQ(bad.status, 401) << "a bad token is refused, not handed to the application";
}

TEST(ProxyConnect, AnApplicationThatIsDownRefusesTheHandshakeWith503) {
  auto config = TestNode::jwt_config("proxy-test-jwt-secret-0123456789");
  config.proxy_connect_url = "http://127.0.0.1:" + std::to_string(free_port()) + "/proxy/connect";
  config.proxy_secret = kSecret;
  TestNode node(config);
  auto r = WsClient::try_handshake(node.port(), with_cookie("session=alice"));
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("unavailable"), std::string::npos) << r.body;
  EXPECT_EQ(proxied_count(node, 2, kUnavailable), 1u);
  EXPECT_EQ(http_get(node.port(), "/healthz").status, 200);
}

TEST(Proxy, AnUnsubscribedClientReadsNoHistoryNorPresenceOfTheApplicationsRooms) {
  WebhookReceiver backend({.secret = kSecret});
  auto config = proxied(backend);
  config.proxy_subscribe_rooms = "secret:*,club:*";
  TestNode node(config);
  WsClient c(node.port());
  EXPECT_EQ(error_code(c.request({{"op", "history"}, {"room", "club:a"}})), "forbidden");
  EXPECT_EQ(error_code(c.request({{"op", "presence"}, {"room", "secret:a"}})), "forbidden");
  EXPECT_EQ(http_get(node.port(), "/api/history?room=club:a").status, 403);
  ASSERT_EQ(subscribe(c, "club:a")["ok"], true);
  next_call(backend);
  EXPECT_TRUE(c.request({{"op", "history"}, {"room", "club:a"}}).contains("messages"));
  // Adding presence to a subscription is asked again.
  EXPECT_EQ(c.request({{"op", "subscribe"}, {"room", "club:a"}, {"presence", true}})["ok"], true);
  json again = next_call(backend);
  EXPECT_EQ(again["request"]["presence"], true);
  EXPECT_TRUE(c.request({{"op", "presence"}, {"room", "club:a"}}).contains("users"));
}

TEST(Proxy, AStreamsRoomsAreAskedOneAtATime) {
  WebhookReceiver backend({.secret = kSecret, .delay_ms = 50});
  auto config = proxied(backend);
  config.max_rooms = 3;
  TestNode node(config);
  SseClient stream(node.port(), "/sse?rooms=chat:a,secret:b,chat:c,chat:d,chat:e");
  ASSERT_EQ(stream.status(), 200);
  // Asked in order, each after the previous answer; the rooms past --max-rooms are refused
  // without asking.
  std::vector<std::string> asked;
  for (int i = 0; i < 4; ++i) asked.push_back(next_call(backend)["request"]["room"]);
  EXPECT_EQ(asked, (std::vector<std::string>{"chat:a", "secret:b", "chat:c", "chat:d"}));
  EXPECT_THROW(backend.next_report(std::chrono::milliseconds(300)), std::runtime_error);
  EXPECT_EQ(node.metrics().errors(protocol::ErrorCode::too_many_rooms), 1u);
}

TEST(ProxyConnect, WithoutJwtKeysEveryHandshakeIsTheApplicationsAndAPastExpiryIsRefused) {
  WebhookReceiver backend({.secret = kSecret});
  auto config = TestNode::default_config();
  config.allow_anonymous = false;
  config.proxy_connect_url = backend.url("/proxy/connect");
  config.proxy_secret = kSecret;
  TestNode node(config);
  // A token means nothing here: the application is asked, and the cookie decides.
  WsClient alice(node.port(), with_cookie("session=alice", "/ws?token=anything"));
  EXPECT_EQ(next_call(backend)["request"]["headers"]["cookie"], "session=alice");
  EXPECT_EQ(alice.request({{"op", "refresh"}, {"token", "anything"}})["error"]["code"], "bad_token");
  auto api = http_request(node.port(), "POST", "/api/publish",
                          {{"Content-Type", "application/json"}, {"Authorization", "Bearer anything"}},
                          R"({"room":"chat:a","data":1})");
  EXPECT_EQ(api.status, 401);
  // An expiry that has passed (milliseconds, by mistake, are far in the future: refused too).
  for (const char* at : {"1000000000", "1796464714137"}) {
    auto r = WsClient::try_handshake(node.port(), with_cookie("session=alice", std::string("/ws?expires_at=") + at));
    EXPECT_EQ(r.status, 503) << at << ": " << r.body;
  }
}

}  // namespace proxy_test
