// The proxy to the application: subscribes and publishes asked of a real backend first
// (tests/support/webhook_receiver.py, which checks each call's signature with Python's hmac and
// answers as a chat application would): refusals reach the client as forbidden with the
// application's message, a publish's data replaced by the application is what subscribers get,
// a connection's requests keep their order behind a proxied one, and a backend that is down, slow
// or garbled makes the request unavailable within the timeout while everything else carries on.
#include <gtest/gtest.h>

#include <set>

#include "FreePort.h"
#include "TestNode.h"
#include "WebhookReceiver.h"
#include "WsClient.h"

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
  EXPECT_TRUE(call["request"]["connection"].is_string());
  EXPECT_TRUE(call["request"]["user"].is_string());

  EXPECT_EQ(subscribe(alice, "chat:lobby")["ok"], true);
  EXPECT_EQ(next_call(backend)["request"]["room"], "chat:lobby");
  EXPECT_TRUE(publish(alice, "chat:lobby", "in").contains("offset"));
  EXPECT_EQ(alice.read_json()["data"], "in") << "subscribed once the application allowed it";
  json again = alice.request({{"op", "subscribe"}, {"room", "chat:lobby"}, {"presence", true}});
  EXPECT_EQ(again["ok"], true);
  EXPECT_EQ(next_call(backend)["path"], "/proxy/publish");
  EXPECT_THROW(backend.next_report(std::chrono::milliseconds(0)), std::runtime_error)
      << "a subscription whose presence changed is not asked again";
  EXPECT_EQ(proxied_count(node, kSubscribe, kAllowed), 1u);
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
