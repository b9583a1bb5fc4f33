// Message history and recovery, on the embedded broker and on a cluster of two nodes sharing a real
// redis-server: positions, "since" on subscribe (no gap, no duplicate), the history request.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "BrokerNodes.h"
#include "RedisServer.h"
#include "TestNode.h"
#include "WsClient.h"

namespace history_test {  // this suite's own names: the sanitizer builds compile suites together

using namespace switchboard;
using namespace switchboard::test;
using nlohmann::json;

namespace {

// The embedded broker (one node, reached twice), or two nodes sharing a Redis.
class History : public BrokerNodes {
 protected:
  void SetUp() override { start(2); }
  server::Config config() const override {
    auto c = TestNode::default_config();
    c.history_size = 2000;
    c.history_rules = R"({"small:":{"size":5},"none:":{"size":0}})";
    return with_broker(c);
  }
  // The node subscribers use, and the node publishers use (the same one on a single node).
  TestNode& a() { return node(0); }
  TestNode& b() { return node(1); }

  static json subscribe(WsClient& c, const std::string& room, const json& since = nullptr) {
    json req = {{"op", "subscribe"}, {"room", room}};
    if (!since.is_null()) req["since"] = since;
    return c.request(req);
  }
  // Publishes data 0..count-1 with a request each; returns the offsets the acks gave.
  static std::vector<std::uint64_t> publish(WsClient& c, const std::string& room, int count) {
    std::vector<std::uint64_t> offsets;
    for (int n = 0; n < count; ++n) {
      json reply = c.request({{"op", "publish"}, {"room", room}, {"data", n}});
      EXPECT_EQ(reply["ok"], true) << reply;
      offsets.push_back(reply.value("offset", 0u));
    }
    return offsets;
  }
  // The position a subscribe reply gives, as a "since".
  static json position(const json& reply) { return {{"offset", reply["offset"]}, {"epoch", reply["epoch"]}}; }
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Broker, History, ::testing::Values(false, true), BrokerNodes::broker_name);

TEST_P(History, SubscribeGivesThePositionAndMessagesCountUpFromIt) {
  WsClient sub(a().port()), pub(b().port());
  json reply = subscribe(sub, "chat:lobby");
  ASSERT_EQ(reply["ok"], true);
  EXPECT_EQ(reply["offset"], 0);
  ASSERT_TRUE(reply["epoch"].is_string());
  EXPECT_FALSE(reply.contains("recovered"));
  EXPECT_EQ(publish(pub, "chat:lobby", 3), (std::vector<std::uint64_t>{1, 2, 3}));
  for (int n = 1; n <= 3; ++n) {
    json m = sub.read_json();
    EXPECT_EQ(m["offset"], n);
    EXPECT_EQ(m["data"], n - 1);
  }
  // A later subscriber starts from the latest message, in the same epoch.
  WsClient late(b().port());
  json late_reply = subscribe(late, "chat:lobby");
  EXPECT_EQ(late_reply["offset"], 3);
  EXPECT_EQ(late_reply["epoch"], reply["epoch"]);
  EXPECT_EQ(publish(pub, "chat:lobby", 1), std::vector<std::uint64_t>{4});
  EXPECT_EQ(late.read_json()["offset"], 4);
  EXPECT_EQ(sub.read_json()["offset"], 4);
}

TEST_P(History, AClientThatWasAwayRecoversEveryMessageInOrderThroughTheOtherNode) {
  json since;
  {
    WsClient sub(a().port());
    since = position(subscribe(sub, "chat:lobby"));
    WsClient pub(b().port());
    publish(pub, "chat:lobby", 1);
    json first = sub.read_json();
    since["offset"] = first["offset"];
  }  // gone
  WsClient pub(a().port());
  auto offsets = publish(pub, "chat:lobby", 1000);
  ASSERT_EQ(offsets.back(), 1001u);

  WsClient back(b().port());
  json reply = subscribe(back, "chat:lobby", since);
  ASSERT_EQ(reply["ok"], true) << reply;
  EXPECT_EQ(reply["recovered"], true);
  EXPECT_EQ(reply["offset"], 1001);
  for (int n = 0; n < 1000; ++n) {
    json m = back.read_json();
    ASSERT_EQ(m["offset"], n + 2) << m;
    ASSERT_EQ(m["data"], n);
  }
  // Then the live ones, and nothing twice.
  publish(pub, "chat:lobby", 1);
  EXPECT_EQ(back.read_json()["offset"], 1002);
  EXPECT_TRUE(back.quiet_for(std::chrono::milliseconds(50)));
  if (!clustered()) {
    EXPECT_EQ(a().metrics().recoveries_succeeded.load(), 1u);
  }
}

TEST_P(History, NoGapAndNoDuplicateAtTheSeamWhilePublishing) {
  WsClient first(a().port());
  json since = position(subscribe(first, "busy"));
  first.close();

  constexpr int kMessages = 600;
  std::atomic<int> acked{0};
  std::thread publisher([&] {
    WsClient pub(b().port());
    for (int n = 0; n < kMessages; ++n) {
      if (pub.request({{"op", "publish"}, {"room", "busy"}, {"data", n}})["ok"] != true) return;
      ++acked;
    }
  });
  // Subscribe again in the middle of the stream.
  ASSERT_TRUE(eventually([&] { return acked >= kMessages / 4; }, std::chrono::seconds(20)));
  WsClient back(a().port());
  json reply = subscribe(back, "busy", since);
  publisher.join();
  ASSERT_EQ(acked, kMessages);
  EXPECT_EQ(reply["recovered"], true) << reply;
  for (int n = 1; n <= kMessages; ++n) {
    json m = back.read_json();
    ASSERT_EQ(m["offset"], n) << "after the reply at offset " << reply["offset"];
  }
  EXPECT_TRUE(back.quiet_for(std::chrono::milliseconds(50)));
}

TEST_P(History, WhenTheHistoryDoesNotReachBackNothingOldIsSent) {
  WsClient sub(a().port()), pub(b().port());
  json since = position(subscribe(sub, "small:room"));
  sub.close();
  publish(pub, "small:room", 10);  // the room keeps 5 (in Redis, about 5: MAXLEN ~)
  WsClient back(a().port());
  json reply = subscribe(back, "small:room", since);
  ASSERT_EQ(reply["ok"], true);
  if (!clustered()) {
    EXPECT_EQ(reply["recovered"], false);
  }
  EXPECT_EQ(reply["offset"], 10);
  // Another epoch never recovers.
  WsClient stranger(a().port());
  json other = subscribe(stranger, "small:room", {{"offset", 9}, {"epoch", "not-the-epoch"}});
  EXPECT_EQ(other["recovered"], false);
  EXPECT_EQ(other["offset"], 10);
  publish(pub, "small:room", 1);
  EXPECT_EQ(stranger.read_json()["offset"], 11);
  // A room without history numbers its messages but recovers nothing that was missed.
  json none = position(subscribe(stranger, "none:typing"));
  publish(pub, "none:typing", 2);
  stranger.read_json();
  stranger.read_json();
  WsClient late(a().port());
  json reply_none = subscribe(late, "none:typing", none);
  EXPECT_EQ(reply_none["recovered"], false);
  EXPECT_EQ(reply_none["offset"], 2);
  // Nothing missed: recovered, with nothing to replay.
  json current = position(reply_none);
  WsClient again(a().port());
  EXPECT_EQ(subscribe(again, "none:typing", current)["recovered"], true);
  EXPECT_TRUE(again.quiet_for(std::chrono::milliseconds(50)));
}

TEST_P(History, HistoryRequestReturnsTheLatestMessages) {
  WsClient c(a().port()), pub(b().port());
  json empty = c.request({{"op", "history"}, {"room", "news"}});
  EXPECT_EQ(empty["ok"], true);
  EXPECT_EQ(empty["offset"], 0);
  EXPECT_EQ(empty["messages"], json::array());
  publish(pub, "news", 5);
  json reply = c.request({{"op", "history"}, {"room", "news"}, {"limit", 2}});
  ASSERT_EQ(reply["messages"].size(), 2u) << reply;
  EXPECT_EQ(reply["offset"], 5);
  EXPECT_EQ(reply["epoch"], empty["epoch"]);
  EXPECT_EQ(reply["messages"][0]["offset"], 4);
  EXPECT_EQ(reply["messages"][0]["data"], 3);
  EXPECT_EQ(reply["messages"][0]["type"], "message");
  EXPECT_EQ(reply["messages"][1]["offset"], 5);
  EXPECT_EQ(c.request({{"op", "history"}, {"room", "news"}})["messages"].size(), 5u);
  for (json limit : {json(0), json(1001), json("2"), json(-1)}) {
    json bad = c.request({{"op", "history"}, {"room", "news"}, {"limit", limit}});
    EXPECT_EQ(bad["error"]["code"], "bad_request") << limit;
  }
}

TEST_P(History, MalformedSinceIsABadRequest) {
  WsClient c(a().port());
  for (json since : {json(5), json::object(), json{{"offset", -1}, {"epoch", "e"}}, json{{"offset", 1}},
                     json{{"offset", 1.5}, {"epoch", "e"}}, json{{"offset", 1}, {"epoch", std::string(65, 'e')}}}) {
    json reply = subscribe(c, "r", since);
    EXPECT_EQ(reply["error"]["code"], "bad_request") << since;
  }
  EXPECT_EQ(subscribe(c, "r")["ok"], true);  // still usable
}

TEST_P(History, LostHistoryStartsANewEpoch) {
  if (!clustered()) GTEST_SKIP() << "the embedded history is lost only with the node";
  WsClient sub(a().port()), pub(b().port());
  json reply = subscribe(sub, "chat:lobby");
  publish(pub, "chat:lobby", 3);
  sub.close();
  redis().cli("FLUSHALL");
  WsClient back(a().port());
  json again = subscribe(back, "chat:lobby", {{"offset", 3}, {"epoch", reply["epoch"]}});
  EXPECT_EQ(again["recovered"], false);
  EXPECT_EQ(again["offset"], 0);
  EXPECT_NE(again["epoch"], reply["epoch"]);
  EXPECT_EQ(publish(pub, "chat:lobby", 1), std::vector<std::uint64_t>{1});
  EXPECT_EQ(back.read_json()["offset"], 1);
}

}  // namespace history_test
