// Idempotent publishes (`idem`): a retry with the key of a publish the broker accepted gets that
// publish's ack and delivers nothing again — on the embedded broker, and across two nodes sharing
// a real redis-server (the retry through the other node). Keys are per room and per publisher.
#include <gtest/gtest.h>

#include <sstream>

#include "BrokerNodes.h"
#include "RedisServer.h"
#include "TestNode.h"
#include "TestToken.h"
#include "WsClient.h"

namespace idempotent_publish_test {  // this suite's own names: the sanitizer builds compile suites together

using namespace switchboard;
using namespace switchboard::test;
using nlohmann::json;

namespace {

const std::string kApiKey = "idempotency-test-key-0123456789";
const std::string kSecret = "idempotency-test-secret-0123456789";

// A connection of `user` (a JWT).
WsClient::Options as(const std::string& user) {
  WsClient::Options o;
  o.target = "/ws?token=" + user_token(kSecret, user);
  return o;
}

class IdempotentPublish : public BrokerNodes {
 protected:
  void SetUp() override { start(2); }
  server::Config config() const override {
    auto c = TestNode::default_config();
    c.api_keys = kApiKey;
    c.jwt_secret = kSecret;
    c.allow_anonymous = true;
    c.idempotency_window = window_;
    return with_broker(c);
  }
  // The node subscribers use, and the node retries go through (the same one on a single node).
  TestNode& a() { return node(0); }
  TestNode& b() { return node(1); }

  static json publish(WsClient& c, const std::string& room, const json& data, const std::string& idem) {
    json req = {{"op", "publish"}, {"room", room}, {"data", data}};
    if (!idem.empty()) req["idem"] = idem;
    return c.request(req);
  }
  // switchboard_publish_duplicates_total in the node's /metrics.
  static std::uint64_t duplicates(TestNode& node) {
    std::istringstream lines(http_get(node.port(), "/metrics").body);
    std::string line;
    const std::string name = "switchboard_publish_duplicates_total ";
    while (std::getline(lines, line))
      if (line.rfind(name, 0) == 0) return std::stoull(line.substr(name.size()));
    ADD_FAILURE() << "no " << name << "in /metrics";
    return 0;
  }

  std::chrono::seconds window_{300};
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Broker, IdempotentPublish, ::testing::Values(false, true), BrokerNodes::broker_name);

TEST_P(IdempotentPublish, ARetryThroughTheOtherNodeGetsTheFirstAckAndDeliversNothingTwice) {
  WsClient sub(a().port());
  ASSERT_EQ(sub.request({{"op", "subscribe"}, {"room", "chat:lobby"}})["ok"], true);
  {
    WsClient publisher(a().port(), as("ada"));
    json ack = publish(publisher, "chat:lobby", "hello", "msg-1");
    ASSERT_EQ(ack["ok"], true) << ack;
    EXPECT_EQ(ack["offset"], 1);
  }
  // The publisher reconnects (to the other node) and sends it again: the same ack, no delivery.
  WsClient again(b().port(), as("ada"));
  json retry = publish(again, "chat:lobby", "hello", "msg-1");
  ASSERT_EQ(retry["ok"], true) << retry;
  EXPECT_EQ(retry["offset"], 1);
  EXPECT_EQ(publish(again, "chat:lobby", "next", "msg-2")["offset"], 2);
  EXPECT_EQ(publish(again, "chat:lobby", "no key", "")["offset"], 3);

  EXPECT_EQ(sub.read_json()["data"], "hello");
  EXPECT_EQ(sub.read_json()["data"], "next");
  EXPECT_EQ(sub.read_json()["data"], "no key");
  EXPECT_TRUE(sub.quiet_for(std::chrono::milliseconds(100)));
  EXPECT_EQ(duplicates(b()), 1u);
  // The room's history holds each message once.
  json history = sub.request({{"op", "history"}, {"room", "chat:lobby"}});
  ASSERT_EQ(history["messages"].size(), 3u) << history;
}

TEST_P(IdempotentPublish, KeysAreKeptPerRoom) {
  WsClient c(a().port());
  ASSERT_EQ(c.request({{"op", "subscribe"}, {"room", "one"}})["ok"], true);
  ASSERT_EQ(c.request({{"op", "subscribe"}, {"room", "two"}})["ok"], true);
  EXPECT_EQ(publish(c, "one", 1, "same")["offset"], 1);
  EXPECT_EQ(publish(c, "two", 2, "same")["offset"], 1);
  EXPECT_EQ(c.read_json()["room"], "one");
  EXPECT_EQ(c.read_json()["room"], "two");
  EXPECT_EQ(duplicates(a()), 0u);
}

TEST_P(IdempotentPublish, TheSameKeySentTwiceWithoutWaitingIsPublishedOnce) {
  WsClient sub(a().port()), pub(b().port());
  ASSERT_EQ(sub.request({{"op", "subscribe"}, {"room", "burst"}})["ok"], true);
  // Both leave before the first is answered: on a cluster they reach Redis in one script call.
  for (int id = 1; id <= 2; ++id)
    pub.send_json({{"op", "publish"}, {"id", id}, {"room", "burst"}, {"data", "once"}, {"idem", "k"}});
  json first = pub.read_json(), second = pub.read_json();
  EXPECT_EQ(first["offset"], 1) << first;
  EXPECT_EQ(second["offset"], 1) << second;
  EXPECT_EQ(sub.read_json()["data"], "once");
  EXPECT_TRUE(sub.quiet_for(std::chrono::milliseconds(100)));
}

TEST_P(IdempotentPublish, KeysAreKeptPerPublisherOverWebSocketsAndTheHttpApi) {
  WsClient sub(a().port());
  ASSERT_EQ(sub.request({{"op", "subscribe"}, {"room", "alerts"}})["ok"], true);
  auto post = [&](TestNode& node, const std::string& bearer) {
    return http_request(node.port(), "POST", "/api/publish",
                        {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + bearer}},
                        R"({"room":"alerts","data":"disk full","idem":"alert-42"})");
  };
  // The API keys are one publisher, through any node.
  auto r = post(a(), kApiKey);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body), (json{{"ok", true}, {"offset", 1}}));
  r = post(b(), kApiKey);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body), (json{{"ok", true}, {"offset", 1}}));
  // A user with the same key is another publisher: no key of the API's answers its publish. Its
  // key is the same over a WebSocket and over the HTTP API with its token.
  WsClient ada(b().port(), as("ada"));
  EXPECT_EQ(publish(ada, "alerts", "disk full", "alert-42")["offset"], 2);
  r = post(a(), user_token(kSecret, "ada"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["offset"], 2);
  WsClient eve(a().port(), as("eve"));
  EXPECT_EQ(publish(eve, "alerts", "disk full", "alert-42")["offset"], 3);
  for (int offset = 1; offset <= 3; ++offset) EXPECT_EQ(sub.read_json()["offset"], offset);
  EXPECT_TRUE(sub.quiet_for(std::chrono::milliseconds(100)));
  EXPECT_EQ(duplicates(a()) + (clustered() ? duplicates(b()) : 0), 2u);

  // A bad key is refused before anything is published.
  r = http_request(a().port(), "POST", "/api/publish",
                   {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + kApiKey}},
                   R"({"room":"alerts","data":1,"idem":"no spaces"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "bad_request");
}

// --idempotency-window 0: keys are ignored, every publish is delivered.
class IdempotentPublishOff : public IdempotentPublish {
 protected:
  void SetUp() override {
    window_ = std::chrono::seconds(0);
    IdempotentPublish::SetUp();
  }
};

INSTANTIATE_TEST_SUITE_P(Broker, IdempotentPublishOff, ::testing::Values(false, true), BrokerNodes::broker_name);

TEST_P(IdempotentPublishOff, KeysAreIgnored) {
  WsClient c(a().port());
  ASSERT_EQ(c.request({{"op", "subscribe"}, {"room", "r"}})["ok"], true);
  EXPECT_EQ(publish(c, "r", 1, "k")["offset"], 1);
  EXPECT_EQ(publish(c, "r", 1, "k")["offset"], 2);
  EXPECT_EQ(c.read_json()["offset"], 1);
  EXPECT_EQ(c.read_json()["offset"], 2);
}

}  // namespace idempotent_publish_test
