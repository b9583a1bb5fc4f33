// Nodes sharing a real redis-server (started by the test on a free loopback port): messages cross
// nodes exactly once and in order, and a Redis outage is survived without acking lost messages.
#include <gtest/gtest.h>

#include "RedisServer.h"
#include "TestNode.h"
#include "WsClient.h"

using namespace switchboard;
using namespace switchboard::test;
using nlohmann::json;

namespace {

server::Config cluster_config(const RedisServer& redis) {
  auto c = TestNode::default_config();
  c.redis = redis.url();
  c.redis_prefix = "test:";
  return c;
}

// The node is ready once it reaches Redis.
void wait_ready(TestNode& node) {
  ASSERT_TRUE(eventually([&] { return http_get(node.port(), "/readyz").status == 200; })) << "node never ready";
}

// Subscribes and waits until Redis has the node's subscription, so that a publish from another
// node right after reaches it. (A subscription becomes effective when Redis confirms it.)
void subscribe(WsClient& client, RedisServer& redis, const std::string& room, std::size_t nodes_expected) {
  ASSERT_EQ(client.request({{"op", "subscribe"}, {"room", room}})["ok"], true);
  ASSERT_TRUE(eventually([&] {
    auto out = redis.cli("PUBSUB NUMSUB test:room:" + room);
    return out.find("\n" + std::to_string(nodes_expected) + "\n") != std::string::npos;
  })) << redis.cli("PUBSUB NUMSUB test:room:" + room);
}

}  // namespace

TEST(Cluster, MessagesReachEverySubscriberOnEveryNodeExactlyOnceInOrder) {
  RedisServer redis;
  std::vector<std::unique_ptr<TestNode>> nodes;
  for (int i = 0; i < 3; ++i) {
    nodes.push_back(std::make_unique<TestNode>(cluster_config(redis)));
    wait_ready(*nodes.back());
  }
  // Two subscribers on each node; the publisher on node 0 is subscribed too.
  std::vector<WsClient> subscribers;
  for (int i = 0; i < 6; ++i) subscribers.emplace_back(nodes[i % 3]->port());
  for (std::size_t i = 0; i < subscribers.size(); ++i) subscribe(subscribers[i], redis, "chat:lobby", std::min<std::size_t>(i + 1, 3));
  WsClient& publisher = subscribers[0];

  constexpr int kMessages = 200;
  for (int n = 0; n < kMessages; ++n) publisher.send_json({{"op", "publish"}, {"id", n}, {"room", "chat:lobby"}, {"data", n}});
  for (std::size_t i = 0; i < subscribers.size(); ++i) {
    for (int n = 0; n < kMessages; ++n) {
      json m = subscribers[i].read_until([](const json& j) { return j.value("type", "") == "message"; });
      ASSERT_EQ(m["data"], n) << "subscriber " << i;  // each once, in publish order
    }
    if (i != 0) EXPECT_TRUE(subscribers[i].quiet_for(std::chrono::milliseconds(50))) << "a duplicate on " << i;
  }
  // Every publish is acknowledged: most acks came between the publisher's messages, the rest follow.
  std::size_t acks = 0;
  for (const auto& j : publisher.skipped()) acks += j.value("ok", false) ? 1 : 0;
  for (; acks < static_cast<std::size_t>(kMessages); ++acks) ASSERT_EQ(publisher.read_json()["ok"], true) << acks;
  EXPECT_TRUE(publisher.quiet_for(std::chrono::milliseconds(50)));
}

TEST(Cluster, TheLastLocalSubscriberLeavingUnsubscribesTheNode) {
  RedisServer redis;
  TestNode node(cluster_config(redis));
  wait_ready(node);
  WsClient a(node.port()), b(node.port());
  subscribe(a, redis, "r", 1);
  b.request({{"op", "subscribe"}, {"room", "r"}});
  a.request({{"op", "unsubscribe"}, {"room", "r"}});
  EXPECT_NE(redis.cli("PUBSUB NUMSUB test:room:r").find("\n1\n"), std::string::npos);  // b is still there
  b.close();
  EXPECT_TRUE(eventually([&] { return redis.cli("PUBSUB NUMSUB test:room:r").find("\n0\n") != std::string::npos; }));
}

TEST(Cluster, RedisOutageRefusesPublishesAndSubscriptionsResumeAfter) {
  RedisServer redis;
  TestNode a(cluster_config(redis)), b(cluster_config(redis));
  wait_ready(a);
  wait_ready(b);
  WsClient alice(a.port()), bob(b.port());
  subscribe(bob, redis, "news", 1);
  EXPECT_EQ(alice.request({{"op", "publish"}, {"room", "news"}, {"data", "before"}})["ok"], true);
  EXPECT_EQ(bob.read_json()["data"], "before");

  redis.stop();
  ASSERT_TRUE(eventually([&] { return http_get(a.port(), "/readyz").status == 503; }));
  EXPECT_EQ(http_get(a.port(), "/healthz").status, 200);  // alive, just not ready
  auto refused = alice.request({{"op", "publish"}, {"room", "news"}, {"data", "during"}});
  EXPECT_EQ(refused["error"]["code"], "unavailable");

  redis.start();  // same port, empty: the nodes reconnect and subscribe again by themselves
  wait_ready(a);
  wait_ready(b);
  ASSERT_TRUE(eventually([&] { return redis.cli("PUBSUB NUMSUB test:room:news").find("\n1\n") != std::string::npos; }));
  EXPECT_EQ(alice.request({{"op", "publish"}, {"room", "news"}, {"data", "after"}})["ok"], true);
  EXPECT_EQ(bob.read_json()["data"], "after");  // never "during": it was refused, not lost
  EXPECT_TRUE(alice.is_open());
  EXPECT_TRUE(bob.is_open());
}
