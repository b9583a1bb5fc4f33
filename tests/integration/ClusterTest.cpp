// Nodes sharing a real redis-server (started by the test on a free loopback port): messages cross
// nodes exactly once and in order, and a Redis outage is survived without acking lost messages.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "RedisClusterProcess.h"
#include "RedisSentinelProcess.h"
#include "RedisServer.h"
#include "switchboard/protocol/Messages.h"
#include "switchboard/protocol/StreamPosition.h"
#include "TestNode.h"
#include "WsClient.h"

namespace cluster_test {  // this suite's own names: the sanitizer builds compile suites together

using namespace switchboard;
using namespace switchboard::test;
using nlohmann::json;

namespace {

// Tokens from /dev/token: users by name, so that one user can be on two nodes.
server::Config named_users_config(const RedisServer& redis) {
  auto config = cluster_config(redis);
  config.allow_anonymous = false;
  config.dev = true;
  config.jwt_secret = "cluster-presence-test-secret";
  return config;
}

// A client of `user` on `node` (of named_users_config).
WsClient connect_as(TestNode& node, const std::string& user) {
  auto token = json::parse(http_get(node.port(), "/dev/token?user=" + user).body)["token"].get<std::string>();
  WsClient::Options o;
  o.target = "/ws?token=" + token;
  return WsClient(node.port(), o);
}

// Subscribes. The ok reply comes once Redis has confirmed the node's subscription, so a publish
// from any node after it reaches the client: the tests rely on that, with no waiting of their own.
void subscribe(WsClient& client, const std::string& room) {
  ASSERT_EQ(client.request({{"op", "subscribe"}, {"room", room}})["ok"], true);
}

// A node that presumes a silent node dead after 600 ms (and reaps it within 800).
server::Config quickly_reaping_config(const RedisServer& redis) {
  auto config = cluster_config(redis);
  config.node_timeout = std::chrono::milliseconds(600);
  return config;
}

// Subscribes `watcher` to the room's presence events; returns its user, read from its own join.
std::string watch_presence(WsClient& watcher, const std::string& room) {
  json reply = watcher.request({{"op", "subscribe"}, {"room", room}, {"presence", true}});
  EXPECT_EQ(reply["ok"], true) << reply.dump();
  return watcher.read_json()["user"];
}

// Redis and two nodes on it, both ready.
struct TwoNodes {
  RedisServer redis;
  TestNode a{cluster_config(redis)}, b{cluster_config(redis)};
  TwoNodes() {
    wait_ready(a);
    wait_ready(b);
  }
};

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
  for (auto& s : subscribers) subscribe(s, "chat:lobby");
  WsClient& publisher = subscribers[0];

  constexpr int kMessages = 200;
  for (int n = 0; n < kMessages; ++n) publisher.send_json({{"op", "publish"}, {"id", n}, {"room", "chat:lobby"}, {"data", n}});
  for (std::size_t i = 0; i < subscribers.size(); ++i) {
    for (int n = 0; n < kMessages; ++n) {
      json m = subscribers[i].read_until([](const json& j) { return j.value("type", "") == "message"; });
      ASSERT_EQ(m["data"], n) << "subscriber " << i;  // each once, in publish order
    }
    if (i != 0) {
      EXPECT_TRUE(subscribers[i].quiet_for(std::chrono::milliseconds(50))) << "a duplicate on " << i;
    }
  }
  // Every publish is acknowledged: most acks came between the publisher's messages, the rest follow.
  std::size_t acks = 0;
  for (const auto& j : publisher.skipped()) acks += j.value("ok", false) ? 1 : 0;
  for (; acks < static_cast<std::size_t>(kMessages); ++acks) ASSERT_EQ(publisher.read_json()["ok"], true) << acks;
  EXPECT_TRUE(publisher.quiet_for(std::chrono::milliseconds(50)));
}

// A burst of publishes goes to Redis as one script call per room (up to 256 messages or 1 MiB
// each): every message still gets its own offset, in publish order per room, and its own ack.
// Messages larger than one 16 KiB read of hiredis cross nodes whole.
TEST(Cluster, ABurstOfPublishesToSeveralRoomsIsNumberedPerRoomInOrder) {
  TwoNodes c;
  WsClient alice(c.a.port()), bob(c.b.port());
  const std::vector<std::string> rooms{"r0", "r1", "big"};
  for (const auto& room : rooms) subscribe(bob, room);
  // 600 small messages alternating between r0 and r1 (more than one batch each), then 20 of
  // 60,000 bytes to "big" (more than one batch's bytes).
  std::map<std::string, int> sent;
  std::vector<std::string> room_of;  // by request id
  for (int n = 0; n < 600; ++n) {
    const std::string& room = rooms[n % 2];
    alice.send_json({{"op", "publish"}, {"id", room_of.size()}, {"room", room}, {"data", sent[room]++}});
    room_of.push_back(room);
  }
  for (int n = 0; n < 20; ++n) {
    alice.send_json({{"op", "publish"}, {"id", room_of.size()}, {"room", "big"}, {"data", std::string(60'000, 'a' + n)}});
    room_of.push_back("big");
  }
  sent["big"] = 20;
  // Each publish is acked once, with its own offset.
  std::map<std::string, std::set<std::uint64_t>> acked;
  for (std::size_t n = 0; n < room_of.size(); ++n) {
    json reply = alice.read_json();
    ASSERT_EQ(reply["ok"], true) << reply.dump();
    acked[room_of.at(reply["id"].get<std::size_t>())].insert(reply["offset"].get<std::uint64_t>());
  }
  for (const auto& room : rooms) {
    ASSERT_EQ(acked[room].size(), static_cast<std::size_t>(sent[room])) << room;
    EXPECT_EQ(*acked[room].begin(), 1u);
    EXPECT_EQ(*acked[room].rbegin(), static_cast<std::uint64_t>(sent[room]));
  }
  std::map<std::string, std::uint64_t> last;
  for (std::size_t n = 0; n < room_of.size(); ++n) {
    json m = bob.read_until([](const json& j) { return j.value("type", "") == "message"; });
    const std::string room = m["room"];
    const std::uint64_t offset = m["offset"];
    ASSERT_EQ(offset, last[room] + 1) << room;  // each room numbered 1, 2, 3, ... in publish order
    last[room] = offset;
    if (room == "big") EXPECT_EQ(m["data"], std::string(60'000, 'a' + static_cast<int>(offset) - 1));
    else EXPECT_EQ(m["data"], static_cast<int>(offset) - 1);
  }
  for (const auto& room : rooms) EXPECT_EQ(last[room], static_cast<std::uint64_t>(sent[room])) << room;
  EXPECT_TRUE(bob.quiet_for(std::chrono::milliseconds(50)));
}

// What Redis keeps in a room's stream (and publishes on its channel, for the nodes of a previous
// version too) is the push with its offset, byte for byte what subscribers receive.
TEST(Cluster, WhatRedisKeepsIsThePushWithItsOffset) {
  TwoNodes c;
  WsClient alice(c.a.port()), bob(c.b.port());
  subscribe(bob, "r");
  ASSERT_EQ(alice.request({{"op", "publish"}, {"room", "r"}, {"data", {{"t", "é/\\"}}}})["offset"], 1);
  std::string received = bob.read_text();
  auto push = protocol::message_push("r", json{{"t", "é/\\"}}.dump(), json::parse(received)["from"].get<std::string>());
  EXPECT_EQ(received, protocol::with_offset(*push, 1));
  EXPECT_EQ(c.redis.cli("XRANGE test:stream:r - +"), "1-0\np\n" + received + "\n");
}

// Redis forgot the node's scripts (SCRIPT FLUSH): the publish that finds out is sent again once
// the node has loaded them again, and numbered as if nothing happened.
TEST(Cluster, APublishAfterRedisLostItsScriptsIsAccepted) {
  RedisServer redis;
  TestNode a(cluster_config(redis));
  wait_ready(a);
  WsClient alice(a.port());
  subscribe(alice, "news");
  EXPECT_EQ(alice.request({{"op", "publish"}, {"room", "news"}, {"data", 1}})["ok"], true);
  redis.cli("SCRIPT FLUSH");
  json reply = alice.request({{"op", "publish"}, {"room", "news"}, {"data", 2}});
  EXPECT_EQ(reply["ok"], true) << reply.dump();
  EXPECT_EQ(reply["offset"], 2);
  json history = alice.request({{"op", "history"}, {"room", "news"}});  // the history script too
  ASSERT_EQ(history["ok"], true) << history.dump();
  EXPECT_EQ(history["messages"].size(), 2u);
  for (int n = 1; n <= 2; ++n)
    EXPECT_EQ(alice.read_until([](const json& j) { return j.value("type", "") == "message"; })["data"], n);
}

// Publishes in flight when Redis forgets the scripts: those that found none are sent again ahead
// of every later one, so each room's messages keep their order.
TEST(Cluster, PublishesInFlightWhenRedisLosesItsScriptsKeepTheirOrder) {
  TwoNodes c;
  WsClient alice(c.a.port()), bob(c.b.port());
  subscribe(bob, "r");
  constexpr int kRounds = 5, kBurst = 100;
  for (int round = 0; round < kRounds; ++round) {
    for (int n = 0; n < kBurst; ++n) {
      alice.send_json({{"op", "publish"}, {"id", round * kBurst + n}, {"room", "r"}, {"data", round * kBurst + n}});
      if (n == kBurst / 2) c.redis.cli("SCRIPT FLUSH");
    }
    for (int n = 0; n < kBurst; ++n) {
      json reply = alice.read_json();
      ASSERT_EQ(reply["ok"], true) << reply.dump();
      // One connection's publishes to one room are numbered in the order they were made.
      EXPECT_EQ(reply["offset"], reply["id"].get<int>() + 1) << reply.dump();
    }
  }
  for (int n = 0; n < kRounds * kBurst; ++n) {
    json m = bob.read_until([](const json& j) { return j.value("type", "") == "message"; });
    ASSERT_EQ(m["offset"], n + 1);
    ASSERT_EQ(m["data"], n);
  }
}

TEST(Cluster, TheLastLocalSubscriberLeavingUnsubscribesTheNode) {
  RedisServer redis;
  TestNode node(cluster_config(redis));
  wait_ready(node);
  WsClient a(node.port()), b(node.port());
  subscribe(a, "r");
  EXPECT_NE(redis.cli("PUBSUB NUMSUB test:room:r").find("\n1\n"), std::string::npos);
  b.request({{"op", "subscribe"}, {"room", "r"}});
  a.request({{"op", "unsubscribe"}, {"room", "r"}});
  EXPECT_NE(redis.cli("PUBSUB NUMSUB test:room:r").find("\n1\n"), std::string::npos);  // b is still there
  b.close();
  EXPECT_TRUE(eventually([&] { return redis.cli("PUBSUB NUMSUB test:room:r").find("\n0\n") != std::string::npos; }));
}

TEST(Cluster, RedisOutageRefusesPublishesAndSubscriptionsResumeAfter) {
  TwoNodes c;
  WsClient alice(c.a.port()), bob(c.b.port());
  subscribe(bob, "news");
  EXPECT_EQ(alice.request({{"op", "publish"}, {"room", "news"}, {"data", "before"}})["ok"], true);
  EXPECT_EQ(bob.read_json()["data"], "before");

  c.redis.stop();
  ASSERT_TRUE(eventually([&] { return http_get(c.a.port(), "/readyz").status == 503; }));
  EXPECT_EQ(http_get(c.a.port(), "/healthz").status, 200);  // alive, just not ready
  auto refused = alice.request({{"op", "publish"}, {"room", "news"}, {"data", "during"}});
  EXPECT_EQ(refused["error"]["code"], "unavailable");
  EXPECT_EQ(bob.request({{"op", "subscribe"}, {"room", "sports"}})["error"]["code"], "unavailable");

  c.redis.start();  // same port, empty: the nodes reconnect and subscribe again by themselves
  wait_ready(c.a);
  wait_ready(c.b);
  // The node subscribes again by itself; a fresh subscribe's ok shows the subscriber connection is back.
  WsClient probe(c.b.port());
  subscribe(probe, "news");
  EXPECT_EQ(alice.request({{"op", "publish"}, {"room", "news"}, {"data", "after"}})["ok"], true);
  // Redis came back empty: the room's history starts again under a new epoch, and bob hears
  // of it before its first message.
  json announced = bob.read_json();
  EXPECT_EQ(announced["type"], "subscribed") << announced.dump();
  EXPECT_EQ(announced["recovered"], false);
  EXPECT_EQ(announced["offset"], 0);
  EXPECT_EQ(bob.read_json()["data"], "after");  // never "during": it was refused, not lost
  EXPECT_TRUE(alice.is_open());
  EXPECT_TRUE(bob.is_open());
}

TEST(ClusterPresence, MembersAndEventsAreClusterWideAndPerUser) {
  RedisServer redis;
  auto config = named_users_config(redis);
  TestNode a(config), b(config);
  wait_ready(a);
  wait_ready(b);
  auto presence_sub = [](WsClient& c) {
    ASSERT_EQ(c.request({{"op", "subscribe"}, {"room", "lobby"}, {"presence", true}})["ok"], true);
  };
  WsClient alice = connect_as(a, "alice");
  presence_sub(alice);
  EXPECT_EQ(alice.read_json()["user"], "alice");  // her own join, through Redis
  WsClient bob = connect_as(b, "bob");
  presence_sub(bob);
  EXPECT_EQ(alice.read_json(), (json{{"type", "join"}, {"room", "lobby"}, {"user", "bob"}, {"info", {{"name", "bob"}}}}));
  EXPECT_EQ(bob.read_json()["user"], "bob");

  // Alice's second tab, on the other node: no event, two connections.
  WsClient alice2 = connect_as(b, "alice");
  alice2.request({{"op", "subscribe"}, {"room", "lobby"}});
  json expected = {{{"user", "alice"}, {"info", {{"name", "alice"}}}, {"conns", 2}},
                   {{"user", "bob"}, {"info", {{"name", "bob"}}}, {"conns", 1}}};
  EXPECT_EQ(bob.request({{"op", "presence"}, {"room", "lobby"}})["users"], expected);  // from node b
  EXPECT_EQ(alice.request({{"op", "presence"}, {"room", "lobby"}})["users"], expected);  // from node a
  auto api = http_request(a.port(), "GET", "/api/presence?room=lobby",
                          {{"Authorization", "Bearer " + json::parse(http_get(a.port(), "/dev/token?user=ops").body)["token"].get<std::string>()}});
  EXPECT_EQ(json::parse(api.body)["users"], expected);

  alice.close();  // one of her two connections: she stays
  EXPECT_TRUE(eventually([&] {
    return bob.request({{"op", "presence"}, {"room", "lobby"}})["users"][0]["conns"] == 1;
  }));
  EXPECT_TRUE(bob.quiet_for(std::chrono::milliseconds(50)));
  alice2.close();  // the last one, on the other node: she leaves (the protocol's event, byte for byte)
  EXPECT_EQ(bob.read_text(), *protocol::presence_event(protocol::PresenceEventType::leave, "lobby", "alice", {{"name", "alice"}}));
}

// Redis forgot the scripts (SCRIPT FLUSH): joins, lists, leaves and heartbeats still work.
TEST(ClusterPresence, JoinsListsAndLeavesWorkAfterRedisLostItsScripts) {
  RedisServer redis;
  auto config = named_users_config(redis);
  config.node_timeout = std::chrono::milliseconds(600);  // heartbeats every 200 ms
  TestNode a(config), b(config);
  wait_ready(a);
  wait_ready(b);
  WsClient alice = connect_as(a, "alice");
  ASSERT_EQ(alice.request({{"op", "subscribe"}, {"room", "lobby"}, {"presence", true}})["ok"], true);
  EXPECT_EQ(alice.read_json()["user"], "alice");
  redis.cli("SCRIPT FLUSH");
  WsClient bob = connect_as(b, "bob");
  ASSERT_EQ(bob.request({{"op", "subscribe"}, {"room", "lobby"}, {"presence", true}})["ok"], true);
  EXPECT_EQ(alice.read_json(), (json{{"type", "join"}, {"room", "lobby"}, {"user", "bob"}, {"info", {{"name", "bob"}}}}));
  redis.cli("SCRIPT FLUSH");
  json expected = {{{"user", "alice"}, {"info", {{"name", "alice"}}}, {"conns", 1}},
                   {{"user", "bob"}, {"info", {{"name", "bob"}}}, {"conns", 1}}};
  EXPECT_EQ(alice.request({{"op", "presence"}, {"room", "lobby"}})["users"], expected);
  redis.cli("SCRIPT FLUSH");
  bob.close();
  EXPECT_EQ(alice.read_json(), (json{{"type", "leave"}, {"room", "lobby"}, {"user", "bob"}, {"info", {{"name", "bob"}}}}));
  // The nodes keep beating: no one is presumed dead, nobody else leaves.
  redis.cli("SCRIPT FLUSH");
  const std::string beat = redis.cli("GET test:nodes:last-beat");
  EXPECT_TRUE(eventually([&] { return redis.cli("GET test:nodes:last-beat") != beat; }));
  EXPECT_TRUE(alice.quiet_for(config.node_timeout + config.node_timeout / 2));
  EXPECT_EQ(alice.request({{"op", "presence"}, {"room", "lobby"}})["users"].size(), 1u);
}

// A node the others took for dead (its alive key ran out, its connections reaped) that joins a
// room before its next heartbeat registers its connections again: the join tells it so.
TEST(ClusterPresence, ANodeTakenForDeadRegistersItsConnectionsAgainOnItsNextJoin) {
  RedisServer redis;
  auto config = named_users_config(redis);
  TestNode node(config);
  wait_ready(node);
  WsClient alice = connect_as(node, "alice");
  ASSERT_EQ(alice.request({{"op", "subscribe"}, {"room", "lobby"}, {"presence", true}})["ok"], true);
  EXPECT_EQ(alice.read_json()["user"], "alice");
  const std::string id = redis.cli("SRANDMEMBER test:nodes");
  ASSERT_FALSE(id.empty());
  // What a reap by another node leaves behind: the node off the list, its presence gone.
  redis.cli("DEL test:node:" + id.substr(0, id.size() - 1) + ":alive test:presence:lobby:conns "
            "test:presence:lobby:users test:presence:lobby:info");
  redis.cli("SREM test:nodes " + id.substr(0, id.size() - 1));
  WsClient bob = connect_as(node, "bob");
  ASSERT_EQ(bob.request({{"op", "subscribe"}, {"room", "other"}, {"presence", true}})["ok"], true);
  EXPECT_TRUE(eventually([&] { return redis.cli("HGET test:presence:lobby:users alice") == "1\n"; }));
}

TEST(ClusterPresence, ADeadNodesUsersAreReapedAndRedisRestartRestoresPresence) {
  RedisServer redis;
  TestNode survivor(quickly_reaping_config(redis));
  wait_ready(survivor);
  WsClient watcher(survivor.port());
  std::string me = watch_presence(watcher, "r");

  // A node that vanishes without a word: its registration is left in Redis as a crash leaves it.
  // (The executable killed with SIGKILL is in the cluster interop test.)
  // (One script, so that the survivor's reaper sees all of it or none.)
  redis.cli("EVAL \"redis.call('HSET', 'test:presence:r:conns', 'ghost/1', 'casper') "
            "redis.call('HSET', 'test:presence:r:users', 'casper', 1) "
            "redis.call('HSET', 'test:presence:r:info', 'casper', cjson.encode({name='Casper'})) "
            "redis.call('SADD', 'test:node:ghost:conns', 'r' .. string.char(10) .. 'ghost/1') "
            "redis.call('SADD', 'test:nodes', 'ghost')\" 0");
  EXPECT_EQ(watcher.read_json(), (json{{"type", "leave"}, {"room", "r"}, {"user", "casper"}, {"info", {{"name", "Casper"}}}}));
  auto users = watcher.request({{"op", "presence"}, {"room", "r"}})["users"];
  ASSERT_EQ(users.size(), 1u);
  EXPECT_EQ(users[0]["user"], me);  // the living stay

  // Redis restarts empty: the node registers its connections again.
  redis.stop();
  redis.start();
  wait_ready(survivor);
  EXPECT_TRUE(eventually([&] {
    auto r = watcher.request({{"op", "presence"}, {"room", "r"}});
    return r.contains("users") && r["users"].size() == 1 && r["users"][0]["user"] == me;
  }));
}

// The leaves of a reaped node are the protocol's events, byte for byte, and the node leaves Redis's
// list once every connection of its set is gone (those Redis no longer had included). A node that
// is back (its alive key is there) is not reaped.
TEST(ClusterPresence, AReapedNodesLeavesAreTheProtocolsEventsAndALiveNodeIsLeftAlone) {
  RedisServer redis;
  TestNode survivor(quickly_reaping_config(redis));
  wait_ready(survivor);
  WsClient watcher(survivor.port());
  watch_presence(watcher, "r");
  // "back" beats again (its alive key is there); "ghost" is dead, with two users and a connection
  // Redis no longer has. (One script, so that the survivor's reaper sees all of it or none.)
  redis.cli("EVAL \"redis.call('HSET', 'test:presence:r:conns', 'ghost/1', 'cas/per', 'ghost/2', 'ann', 'back/1', 'bo') "
            "redis.call('HSET', 'test:presence:r:users', 'cas/per', 1, 'ann', 1, 'bo', 1) "
            "redis.call('HSET', 'test:presence:r:info', 'cas/per', '{\\\"name\\\":\\\"Cé\\\"}', 'ann', '{}', 'bo', '{}') "
            "redis.call('SADD', 'test:node:ghost:conns', 'r' .. string.char(10) .. 'ghost/1', "
            "           'r' .. string.char(10) .. 'ghost/2', 'r' .. string.char(10) .. 'ghost/3') "
            "redis.call('SADD', 'test:node:back:conns', 'r' .. string.char(10) .. 'back/1') "
            "redis.call('SET', 'test:node:back:alive', '1', 'PX', 60000) "
            "redis.call('SADD', 'test:nodes', 'ghost', 'back')\" 0");
  std::set<std::string> leaves{watcher.read_text(), watcher.read_text()};
  EXPECT_EQ(leaves, (std::set<std::string>{
                        *protocol::presence_event(protocol::PresenceEventType::leave, "r", "ann", json::object()),
                        *protocol::presence_event(protocol::PresenceEventType::leave, "r", "cas/per", {{"name", "Cé"}})}));
  EXPECT_TRUE(eventually([&] { return redis.cli("SISMEMBER test:nodes ghost") == "0\n"; }));
  EXPECT_EQ(redis.cli("EXISTS test:node:ghost:conns"), "0\n");
  EXPECT_EQ(redis.cli("SISMEMBER test:nodes back"), "1\n");
  auto users = watcher.request({{"op", "presence"}, {"room", "r"}})["users"];
  ASSERT_EQ(users.size(), 2u);  // the living stay
  EXPECT_TRUE(users[0]["user"] == "bo" || users[1]["user"] == "bo") << users.dump();
}

TEST(Cluster, AHangingRedisIsNoticedAndSurvived) {
  RedisServer redis;
  auto config = cluster_config(redis);
  config.node_timeout = std::chrono::milliseconds(600);  // replies are awaited for half of it
  TestNode node(config);
  wait_ready(node);
  WsClient alice(node.port());
  subscribe(alice, "r");

  redis.pause();  // connections stay open, nothing is answered
  ASSERT_TRUE(eventually([&] { return http_get(node.port(), "/readyz").status == 503; }));
  EXPECT_EQ(alice.request({{"op", "publish"}, {"room", "r"}, {"data", "lost?"}})["error"]["code"], "unavailable");

  redis.resume();
  wait_ready(node);
  EXPECT_EQ(alice.request({{"op", "publish"}, {"room", "r"}, {"data", "back"}})["ok"], true);
  EXPECT_EQ(alice.read_json()["data"], "back");
}

namespace {

// What a subscriber saw of a room across outages, checked against what the publisher was told:
// every message follows the subscriber's position (offset + 1), except right after a
// `subscribed` push with recovered:false, which moves the position; and every acknowledged
// message either arrived, in publish order, or an announcement came between the messages
// around it. Never a silent gap.
void expect_nothing_lost_silently(const std::vector<json>& frames, protocol::StreamPosition start,
                                  const std::set<int>& acked, const std::string& who) {
  protocol::StreamPosition at = std::move(start);
  struct Received {
    int data;
    bool announced_before;
  };
  std::vector<Received> received;
  bool announced = false;
  std::size_t announcements = 0;
  for (const auto& f : frames) {
    const std::string type = f.value("type", "");
    if (type == "subscribed") {
      ASSERT_EQ(f["recovered"], false) << who << ": " << f.dump();
      ASSERT_TRUE(f["epoch"].is_string()) << who;
      at = {f["offset"].get<std::uint64_t>(), f["epoch"].get<std::string>()};
      announced = true;
      ++announcements;
    } else if (type == "message") {
      ASSERT_EQ(f["offset"].get<std::uint64_t>(), at.offset + 1) << who << ": a silent gap before " << f.dump();
      at.offset = f["offset"];
      int data = f["data"].is_number_integer() ? f["data"].get<int>() : std::numeric_limits<int>::max();  // "end"
      if (!received.empty()) ASSERT_GT(data, received.back().data) << who << ": out of order";
      received.push_back({data, announced});
      announced = false;
    }
  }
  ASSERT_FALSE(received.empty()) << who;
  ASSERT_EQ(received.back().data, std::numeric_limits<int>::max()) << who << ": never got the end";
  std::size_t lost = 0;
  auto next = received.begin();
  for (int n : acked) {
    while (next->data < n) ++next;
    if (next->data == n) continue;
    ++lost;
    EXPECT_TRUE(next->announced_before) << who << ": acked message " << n << " lost without a word";
  }
  std::cout << who << ": " << received.size() - 1 << " of " << acked.size() << " acked messages received, "
            << announcements << " announcements, " << lost << " lost with one\n";
}

// Reads a room's frames on its own thread until the message "end".
struct Reader {
  WsClient client;
  protocol::StreamPosition start;
  std::vector<json> frames;
  std::thread thread;
  Reader(std::uint16_t port, const std::string& room) : client(port) {
    json reply = client.request({{"op", "subscribe"}, {"room", room}});
    EXPECT_EQ(reply["ok"], true) << reply.dump();
    start = {reply["offset"].get<std::uint64_t>(), reply["epoch"].get<std::string>()};
    client.set_deadline(std::chrono::seconds(30));
  }
  void run() {
    thread = std::thread([this] {
      try {
        for (;;) {
          frames.push_back(client.read_json());
          if (frames.back().value("data", json()) == "end") return;
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << "reader: " << e.what();
      }
    });
  }
};

std::string metric(TestNode& node, const std::string& name) {
  std::string body = http_get(node.port(), "/metrics").body;
  auto at = body.find("\n" + name + " ");
  return at == std::string::npos ? std::string() : body.substr(at + name.size() + 2, body.find('\n', at + 1) - at - name.size() - 2);
}

}  // namespace

// The node's subscriber connection drops while publishes go on being acked (its command
// connection stays up): what pub/sub dropped meanwhile is read back from the room's history,
// so the subscribers get every message, in order, with no announcement.
TEST(ClusterRecovery, WhatPubSubDroppedWhileTheSubscriberReconnectedIsReadBackFromHistory) {
  TwoNodes c;
  WsClient alice(c.a.port());
  Reader bob(c.b.port(), "news");
  bob.run();
  for (int round = 0; round < 5; ++round) {
    for (int n = 0; n < 3; ++n)
      ASSERT_EQ(alice.request({{"op", "publish"}, {"room", "news"}, {"data", 10 * round + n}})["ok"], true);
    c.redis.cli("CLIENT KILL TYPE pubsub");  // both nodes' subscriber connections
    for (int n = 3; n < 10; ++n)  // acked while the subscribers are (most likely) away
      ASSERT_EQ(alice.request({{"op", "publish"}, {"room", "news"}, {"data", 10 * round + n}})["ok"], true);
  }
  ASSERT_TRUE(eventually([&] { return http_get(c.b.port(), "/readyz").status == 200; }));
  ASSERT_EQ(alice.request({{"op", "publish"}, {"room", "news"}, {"data", "end"}})["ok"], true);
  bob.thread.join();
  std::vector<json> expected;
  for (int n = 0; n < 50; ++n) expected.push_back(n);
  expected.push_back("end");
  std::vector<json> got;
  for (const auto& f : bob.frames) {
    EXPECT_EQ(f["type"], "message") << f.dump();  // no announcement: nothing was lost
    got.push_back(f["data"]);
  }
  EXPECT_EQ(got, expected);
  // What pub/sub brought again after the read back is no failover's doing.
  EXPECT_EQ(metric(c.b, "switchboard_redis_stale_messages_total"), "0");
}

// Redis replicates asynchronously: a replica promoted by a failover may lack the latest messages
// its master numbered, which subscribers already received. Those offsets are never given to
// other messages: a node's next script goes on after the last offset it handed on (the stream
// notes the ones in between as lost), a client that saw more keeps its own position, and a
// message numbered meanwhile (by a node that saw nothing) does not reach a subscriber under an
// offset it already had. All in the room's epoch: clients' positions stay good.
TEST(ClusterRecovery, OffsetsAMasterLostInAFailoverAreNeverGivenToOtherMessages) {
  TwoNodes c;
  WsClient sub(c.a.port()), pub(c.a.port());
  json reply = sub.request({{"op", "subscribe"}, {"room", "r"}});
  ASSERT_EQ(reply["ok"], true) << reply.dump();
  const std::string epoch = reply["epoch"];
  auto publish = [](WsClient& client, const json& data) {
    json ack = client.request({{"op", "publish"}, {"room", "r"}, {"data", data}});
    EXPECT_EQ(ack["ok"], true) << ack.dump();
    return ack.value("offset", std::uint64_t{0});
  };
  auto expect_message = [&](WsClient& client, std::uint64_t offset, const json& data) {
    json m = client.read_json();
    EXPECT_EQ(m["type"], "message") << m.dump();
    EXPECT_EQ(m["offset"], offset) << m.dump();
    EXPECT_EQ(m["data"], data) << m.dump();
  };
  for (int n = 1; n <= 10; ++n) ASSERT_EQ(publish(pub, n), std::uint64_t(n));
  for (int n = 1; n <= 10; ++n) expect_message(sub, n, n);

  // Redis as a promoted replica that had messages 1 to 7 only would stand.
  c.redis.cli("HSET test:history:r offset 7");
  c.redis.cli("XDEL test:stream:r 8-0 9-0 10-0");
  c.redis.cli("XSETID test:stream:r 7-0");
  // A client that saw 9 comes back through b (which saw nothing of the room): not recovered, it
  // keeps its position rather than be told 7 and take other messages as 8 and 9.
  WsClient ahead(c.b.port());
  reply = ahead.request({{"op", "subscribe"}, {"room", "r"}, {"since", {{"offset", 9}, {"epoch", epoch}}}});
  EXPECT_EQ(reply["recovered"], false) << reply.dump();
  EXPECT_EQ(reply["offset"], 9) << reply.dump();
  EXPECT_EQ(reply["epoch"], epoch) << reply.dump();
  // a handed on 10: its next publish is 11, and 8 to 10 are noted lost.
  EXPECT_EQ(publish(pub, "after"), 11u);
  expect_message(sub, 11, "after");
  json announced = ahead.read_json();
  EXPECT_EQ(announced, json({{"type", "subscribed"}, {"room", "r"}, {"offset", 10}, {"epoch", epoch}, {"recovered", false}}));
  expect_message(ahead, 11, "after");
  // A client that comes back from 5 recovers 6 and 7, hears where the lost ones end, then gets 11.
  WsClient back(c.b.port());
  reply = back.request({{"op", "subscribe"}, {"room", "r"}, {"since", {{"offset", 5}, {"epoch", epoch}}}});
  EXPECT_EQ(reply["recovered"], true) << reply.dump();
  expect_message(back, 6, 6);
  expect_message(back, 7, 7);
  EXPECT_EQ(back.read_json(), announced);
  expect_message(back, 11, "after");

  // Once more (Redis has up to 9), and a node that saw nothing of the room (no subscriber there)
  // publishes first: it gets 10 again. The nodes that handed 10 on do not deliver it, count it,
  // and move the numbering past what they delivered (11) at once.
  c.redis.cli("HSET test:history:r offset 9");
  c.redis.cli("XDEL test:stream:r 10-0 11-0");
  c.redis.cli("XSETID test:stream:r 9-0");
  TestNode third(cluster_config(c.redis));
  wait_ready(third);
  WsClient unaware(third.port());
  EXPECT_EQ(publish(unaware, "reused"), 10u);
  EXPECT_TRUE(eventually([&] { return metric(c.a, "switchboard_redis_stale_messages_total") == "1"; }));
  EXPECT_TRUE(eventually([&] { return metric(c.b, "switchboard_redis_stale_messages_total") == "1"; }));
  EXPECT_TRUE(eventually([&] { return c.redis.cli("HGET test:history:r offset") == "11\n"; }));
  EXPECT_EQ(publish(unaware, "next"), 12u);
  for (WsClient* client : {&sub, &ahead, &back}) expect_message(*client, 12, "next");
  // The room's history: its messages, without the notes of the lost ones.
  json history = pub.request({{"op", "history"}, {"room", "r"}, {"limit", 3}});
  std::vector<std::uint64_t> offsets;
  for (const auto& m : history["messages"]) offsets.push_back(m["offset"]);
  EXPECT_EQ(offsets, (std::vector<std::uint64_t>{7, 10, 12})) << history.dump();
}

// Redis stopped and started again (empty), its connections killed, its keys flushed — under a
// steady load of publishes, with varied timing: the nodes' subscriber connections or command
// connections back first. Subscribers on both nodes get every acknowledged message in order, or
// a `subscribed` push with recovered:false before the messages after those lost.
TEST(ClusterRecovery, RedisRestartsUnderLoadNeverLeaveASilentGap) {
  TwoNodes c;
  Reader on_a(c.a.port(), "busy"), on_b(c.b.port(), "busy");
  on_a.run();
  on_b.run();
  std::mutex mutex;
  std::set<int> acked;
  std::atomic<int> acks{0};
  std::atomic<bool> stop{false};
  std::thread publisher([&] {
    try {
      WsClient p(c.a.port());
      p.set_deadline(std::chrono::seconds(30));
      for (int n = 0; !stop; ++n) {
        json reply = p.request({{"op", "publish"}, {"room", "busy"}, {"data", n}});
        if (reply.value("ok", false)) {
          std::lock_guard lock(mutex);
          acked.insert(n);
          ++acks;
        }
        // Paced, so that the readers keep up; the outages below come at any point of it.
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << "publisher: " << e.what();
    }
  });
  auto both_ready = [&] {
    return http_get(c.a.port(), "/readyz").status == 200 && http_get(c.b.port(), "/readyz").status == 200;
  };
  auto some_acks = [&](int more) {
    int target = acks + more;
    ASSERT_TRUE(eventually([&] { return acks >= target; }, std::chrono::seconds(20))) << "publishes never acked again";
  };
  for (int round = 0; round < 8; ++round) {
    some_acks(20);
    switch (round % 4) {
      case 0:  // Redis restarts empty; both connections of each node come back in their own time
        c.redis.stop();
        c.redis.start();
        break;
      case 1:  // … and the subscriber connections drop once more: back after the commands
        c.redis.stop();
        c.redis.start();
        ASSERT_TRUE(eventually(both_ready, std::chrono::seconds(20)));
        c.redis.cli("CLIENT KILL TYPE pubsub");
        break;
      case 2:  // … and the command connections drop once more: back after the subscribers
        c.redis.stop();
        c.redis.start();
        ASSERT_TRUE(eventually(both_ready, std::chrono::seconds(20)));
        c.redis.cli("CLIENT KILL TYPE normal");
        break;
      case 3:  // Redis loses every key with its connections up: the epoch changes under them
        c.redis.cli("FLUSHALL");
        break;
    }
    ASSERT_TRUE(eventually(both_ready, std::chrono::seconds(20)));
  }
  some_acks(20);
  stop = true;
  publisher.join();
  WsClient p(c.a.port());
  ASSERT_TRUE(eventually([&] { return p.request({{"op", "publish"}, {"room", "busy"}, {"data", "end"}}).value("ok", false); }));
  on_a.thread.join();
  on_b.thread.join();
  std::lock_guard lock(mutex);
  expect_nothing_lost_silently(on_a.frames, on_a.start, acked, "subscriber on node a");
  expect_nothing_lost_silently(on_b.frames, on_b.start, acked, "subscriber on node b");
}

// What a presence observer sees across a Redis restart (empty): the users whose connections
// stayed produce no event at all — neither a leave nor a repeated join, even when one of their
// connections left during the outage while another, on the other node, stayed — and each user
// who left during the outage produces exactly one leave, after the join the observer saw.
TEST(ClusterPresence, AnObserverSeesExactlyTheLeavesOfAnOutageAndNothingElse) {
  RedisServer redis;
  auto config = named_users_config(redis);
  config.node_timeout = std::chrono::milliseconds(600);
  TestNode a(config), b(config);
  wait_ready(a);
  wait_ready(b);
  WsClient observer = connect_as(a, "olga");
  observer.set_deadline(std::chrono::seconds(20));
  ASSERT_EQ(observer.request({{"op", "subscribe"}, {"room", "lobby"}, {"presence", true}})["ok"], true);
  std::vector<std::string> seen;  // "join alice", "leave carol", …
  auto next_event = [&] {
    // (The room's messages restart under a new epoch too: its announcement is not presence.)
    json e = observer.read_until([](const json& j) { return j.value("type", "") != "subscribed"; });
    seen.push_back(e.value("type", "?") + " " + e.value("user", "?"));
    return seen.back();
  };
  EXPECT_EQ(next_event(), "join olga");
  std::map<std::string, WsClient> conns;
  for (auto [name, node, user] : {std::tuple{"alice@a", &a, "alice"}, std::tuple{"alice@b", &b, "alice"},
                                  std::tuple{"bob", &b, "bob"}, std::tuple{"carol", &a, "carol"},
                                  std::tuple{"dave", &b, "dave"}}) {
    auto [it, added] = conns.emplace(name, connect_as(*node, user));
    ASSERT_EQ(it->second.request({{"op", "subscribe"}, {"room", "lobby"}})["ok"], true);
    if (std::string(name) != "alice@b") EXPECT_EQ(next_event(), std::string("join ") + user);
  }
  EXPECT_TRUE(observer.quiet_for(std::chrono::milliseconds(100)));

  redis.stop();
  ASSERT_TRUE(eventually([&] { return http_get(a.port(), "/readyz").status == 503; }));
  ASSERT_TRUE(eventually([&] { return http_get(b.port(), "/readyz").status == 503; }));
  // During the outage: one of alice's two connections goes (she stays), carol and dave go.
  for (const char* name : {"alice@a", "carol", "dave"}) conns.at(name).close();
  redis.start();
  wait_ready(a);
  wait_ready(b);

  // Exactly carol's and dave's leaves (from two nodes: in either order), then nothing.
  std::set<std::string> leaves{next_event(), next_event()};
  EXPECT_EQ(leaves, (std::set<std::string>{"leave carol", "leave dave"}));
  // Well past the settling time (600 + 2 × 2000 ms) of both nodes.
  EXPECT_TRUE(observer.quiet_for(std::chrono::milliseconds(1500))) << "then: " << observer.read_json().dump();
  for (const auto& j : observer.skipped()) EXPECT_EQ(j["type"], "subscribed") << j.dump();
  json users = observer.request({{"op", "presence"}, {"room", "lobby"}})["users"];
  std::vector<std::string> present;
  for (const auto& u : users) present.push_back(u["user"]);
  EXPECT_EQ(present, (std::vector<std::string>{"alice", "bob", "olga"}));

  // After it, as before: alice's last connection leaving is one leave.
  conns.at("alice@b").close();
  EXPECT_EQ(next_event(), "leave alice");
  EXPECT_TRUE(observer.quiet_for(std::chrono::milliseconds(200)));
  ASSERT_EQ(seen.size(), 8u);
  EXPECT_EQ(seen, (std::vector<std::string>{"join olga", "join alice", "join bob", "join carol", "join dave",
                                            seen[5], seen[6], "leave alice"}));
}

// Redis hangs for longer than the node timeout: every node's liveness key has run out when it
// answers again. No node presumes another dead for it (none reaps while it is settling after
// its own reconnect): the observer sees no event, and presence is intact.
TEST(ClusterPresence, ARedisThatHangsLongerThanTheNodeTimeoutMakesNoUserLeave) {
  RedisServer redis;
  auto config = cluster_config(redis);
  config.node_timeout = std::chrono::milliseconds(600);
  TestNode a(config), b(config);
  wait_ready(a);
  wait_ready(b);
  WsClient observer(a.port()), other(b.port());
  observer.set_deadline(std::chrono::seconds(20));
  ASSERT_EQ(observer.request({{"op", "subscribe"}, {"room", "r"}, {"presence", true}})["ok"], true);
  EXPECT_EQ(observer.read_json()["type"], "join");
  ASSERT_EQ(other.request({{"op", "subscribe"}, {"room", "r"}})["ok"], true);
  EXPECT_EQ(observer.read_json()["type"], "join");

  // The nodes' heartbeats are under way (Redis keeps the latest one's time).
  ASSERT_TRUE(eventually([&] { return redis.cli("EXISTS test:nodes:last-beat") == "1\n"; }));
  redis.pause();
  ASSERT_TRUE(eventually([&] { return http_get(a.port(), "/readyz").status == 503; }));
  ASSERT_TRUE(eventually([&] { return http_get(b.port(), "/readyz").status == 503; }));
  // Nothing to wait for here but Redis's clock: the liveness keys (600 ms) run out meanwhile.
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  redis.resume();
  wait_ready(a);
  wait_ready(b);
  // Past both nodes' settling time (600 + 2 × 2000 ms) and several heartbeats after it.
  EXPECT_TRUE(observer.quiet_for(std::chrono::milliseconds(6000))) << observer.read_json().dump();
  auto users = observer.request({{"op", "presence"}, {"room", "r"}})["users"];
  EXPECT_EQ(users.size(), 2u) << users.dump();
}

// ---- The same checks on every Redis deployment the node runs on ----
//
// `single`: one redis-server (--redis). `sentinel`: a master, its replica and three sentinels
// (--redis-sentinel): the node asks the sentinels for the master. `cluster`: a Redis Cluster of
// three masters and three replicas (--redis-cluster): rooms spread over the masters by hash slot.
// Each topology starts once per suite (in the test process; ctest runs each test in a process
// of its own) and is emptied (FLUSHALL) before each test.

namespace {

enum class Engine { single, sentinel, cluster };

const char* name_of(Engine engine) {
  return engine == Engine::single ? "single" : engine == Engine::sentinel ? "sentinel" : "cluster";
}
std::string engine_name(const testing::TestParamInfo<Engine>& info) { return name_of(info.param); }
void PrintTo(Engine engine, std::ostream* out) { *out << name_of(engine); }

// A node on the Redis Cluster `redis`.
server::Config redis_cluster_config(const RedisClusterProcess& redis) {
  auto c = TestNode::default_config();
  c.redis_cluster = redis.seeds();
  c.redis_prefix = "test:";
  return c;
}

// A node on the sentinels of `topology`.
server::Config sentinel_config(const RedisSentinelProcess& topology) {
  auto c = TestNode::default_config();
  c.redis_sentinel = topology.sentinels();
  c.redis_sentinel_master = topology.master_name();
  c.redis_prefix = "test:";
  return c;
}

class ClusterEngines : public testing::TestWithParam<Engine> {
 public:
  static void TearDownTestSuite() {
    single_.reset();
    sentinel_.reset();
    redis_cluster_.reset();
  }

 protected:
  void SetUp() override {
    if (GetParam() == Engine::single) {
      if (!single_) single_ = std::make_unique<RedisServer>();
      single_->cli("FLUSHALL");
    } else if (GetParam() == Engine::sentinel) {
      if (!sentinel_) sentinel_ = std::make_unique<RedisSentinelProcess>();
      RedisSentinelProcess::cli(sentinel_->master_port(), "FLUSHALL");
    } else {
      if (!redis_cluster_) redis_cluster_ = std::make_unique<RedisClusterProcess>(RedisClusterProcess::Options{.replicas = 1});
      for (std::size_t node = 0; node < redis_cluster_->size(); ++node) redis_cluster_->cli(node, "FLUSHALL");
    }
  }
  server::Config config() const {
    switch (GetParam()) {
      case Engine::single: return cluster_config(*single_);
      case Engine::sentinel: return sentinel_config(*sentinel_);
      case Engine::cluster: break;
    }
    return redis_cluster_config(*redis_cluster_);
  }
  // Users by name from /dev/token (as named_users_config).
  server::Config named_users() const {
    auto c = config();
    c.allow_anonymous = false;
    c.dev = true;
    c.jwt_secret = "cluster-presence-test-secret";
    return c;
  }

  static inline std::unique_ptr<RedisServer> single_;
  static inline std::unique_ptr<RedisSentinelProcess> sentinel_;
  static inline std::unique_ptr<RedisClusterProcess> redis_cluster_;
};

}  // namespace

TEST_P(ClusterEngines, MessagesCrossNodesExactlyOnceInOrder) {
  TestNode a(config()), b(config());
  wait_ready(a);
  wait_ready(b);
  std::vector<WsClient> subscribers;
  for (int i = 0; i < 4; ++i) subscribers.emplace_back(i % 2 ? b.port() : a.port());
  for (auto& s : subscribers) subscribe(s, "chat:lobby");
  WsClient publisher(a.port());
  constexpr int kMessages = 100;
  for (int n = 0; n < kMessages; ++n)
    publisher.send_json({{"op", "publish"}, {"id", n}, {"room", "chat:lobby"}, {"data", n}});
  for (int n = 0; n < kMessages; ++n) ASSERT_EQ(publisher.read_json()["ok"], true) << n;
  for (std::size_t i = 0; i < subscribers.size(); ++i) {
    for (int n = 0; n < kMessages; ++n) {
      json m = subscribers[i].read_json();
      ASSERT_EQ(m["data"], n) << "subscriber " << i << ": " << m.dump();
      ASSERT_EQ(m["offset"], n + 1);
    }
    EXPECT_TRUE(subscribers[i].quiet_for(std::chrono::milliseconds(50))) << "a duplicate on " << i;
  }
}

TEST_P(ClusterEngines, PresenceJoinsAndLeavesCrossNodes) {
  TestNode a(named_users()), b(named_users());
  wait_ready(a);
  wait_ready(b);
  WsClient alice = connect_as(a, "alice");
  EXPECT_EQ(watch_presence(alice, "lobby"), "alice");
  WsClient bob = connect_as(b, "bob");
  EXPECT_EQ(watch_presence(bob, "lobby"), "bob");
  EXPECT_EQ(alice.read_json(), (json{{"type", "join"}, {"room", "lobby"}, {"user", "bob"}, {"info", {{"name", "bob"}}}}));
  json users = alice.request({{"op", "presence"}, {"room", "lobby"}})["users"];
  ASSERT_EQ(users.size(), 2u) << users.dump();
  EXPECT_EQ(users[1]["user"], "bob");
  bob.close();
  EXPECT_EQ(alice.read_text(), *protocol::presence_event(protocol::PresenceEventType::leave, "lobby", "bob", {{"name", "bob"}}));
}

TEST_P(ClusterEngines, HistoryAndRecoveryAcrossNodes) {
  TestNode a(config()), b(config());
  wait_ready(a);
  wait_ready(b);
  WsClient alice(a.port());
  for (int n = 1; n <= 5; ++n) {
    json reply = alice.request({{"op", "publish"}, {"room", "news"}, {"data", n}});
    ASSERT_EQ(reply["ok"], true) << reply.dump();
    ASSERT_EQ(reply["offset"], n);
  }
  WsClient bob(b.port());
  json history = bob.request({{"op", "history"}, {"room", "news"}});
  EXPECT_EQ(history["messages"].size(), 5u);
  EXPECT_EQ(history["offset"], 5);
  const std::string epoch = history["epoch"];
  json reply = bob.request({{"op", "subscribe"}, {"room", "news"}, {"since", {{"offset", 2}, {"epoch", epoch}}}});
  ASSERT_EQ(reply["recovered"], true) << reply.dump();
  EXPECT_EQ(reply["epoch"], epoch);
  for (int n = 3; n <= 5; ++n) EXPECT_EQ(bob.read_json()["data"], n);
  ASSERT_EQ(alice.request({{"op", "publish"}, {"room", "news"}, {"data", 6}})["ok"], true);
  EXPECT_EQ(bob.read_json()["data"], 6);
}

// The server API's control channel on each engine (on a Redis Cluster, sharded channels): a call
// on one node asks and acts on the other, and a node that starts later learns the deny-list.
TEST_P(ClusterEngines, TheServerApiReachesEveryNode) {
  auto c = named_users();
  c.api_keys = "cluster-engines-api-key-0123456789";
  auto call = [&](TestNode& node, std::string_view method, std::string_view target, const json& body = nullptr) {
    return http_request(node.port(), method, target, {{"Authorization", "Bearer " + c.api_keys}},
                        body.is_null() ? "" : body.dump());
  };
  TestNode a(c), b(c);
  wait_ready(a);
  wait_ready(b);
  ASSERT_TRUE(eventually([&] {
    auto r = call(a, "GET", "/api/users/nobody");
    return r.status == 200 && json::parse(r.body)["nodes"] == json{{"answered", 2}, {"known", 2}};
  }, std::chrono::seconds(10)));
  WsClient alice = connect_as(b, "alice");
  subscribe(alice, "chat:x");
  auto facts = json::parse(call(a, "GET", "/api/users/alice").body);
  EXPECT_EQ(facts["connections"], 1) << facts;
  EXPECT_EQ(facts["rooms"], json{"chat:x"});
  auto rooms = json::parse(call(a, "GET", "/api/rooms?pattern=chat:*").body);
  EXPECT_EQ(rooms["rooms"], (json{{{"room", "chat:x"}, {"subscribers", 1}}})) << rooms;
  auto until = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch() + std::chrono::minutes(10)).count();
  auto r = call(a, "POST", "/api/disconnect", {{"user", "alice"}, {"until", until}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["closed"], 1);
  EXPECT_EQ(alice.read_until_closed().code, 4003);
  TestNode late(c);
  wait_ready(late);
  auto token = json::parse(http_get(late.port(), "/dev/token?user=alice").body)["token"].get<std::string>();
  WsClient::Options o;
  o.target = "/ws?token=" + token;
  EXPECT_TRUE(eventually([&] { return WsClient::try_handshake(late.port(), o).status == 403; }));
}

INSTANTIATE_TEST_SUITE_P(Engines, ClusterEngines, testing::Values(Engine::single, Engine::sentinel, Engine::cluster),
                         engine_name);

// ---- Sentinel: following the master ----

namespace {

class ClusterSentinel : public testing::Test {
 public:
  static void SetUpTestSuite() {
    if (!topology_) topology_ = std::make_unique<RedisSentinelProcess>();
  }
  static void TearDownTestSuite() { topology_.reset(); }

 protected:
  void SetUp() override { RedisSentinelProcess::cli(topology_->master_port(), "FLUSHALL"); }
  static inline std::unique_ptr<RedisSentinelProcess> topology_;
};

}  // namespace

// A sentinel that is down (nothing listens on its port), and a Redis that is no sentinel (it
// refuses SENTINEL), are passed by: the node asks the next.
TEST_F(ClusterSentinel, ADeadFirstSentinelIsPassedBy) {
  auto config = sentinel_config(*topology_);
  config.redis_sentinel =
      "127.0.0.1:1,127.0.0.1:" + std::to_string(topology_->replica_port()) + "," + config.redis_sentinel;
  TestNode node(config);
  wait_ready(node);
  WsClient alice(node.port());
  subscribe(alice, "news");
  ASSERT_EQ(alice.request({{"op", "publish"}, {"room", "news"}, {"data", 1}})["ok"], true);
  EXPECT_EQ(alice.read_json()["data"], 1);
}

// The master turned into a replica by hand keeps the node's connections: the next write is
// refused with READONLY, and the node drops both connections and asks the sentinels again; it
// finds no master (the one they name says it is a replica) until the master is one again.
TEST_F(ClusterSentinel, AReadOnlyAnswerMakesTheNodeAskTheSentinelsAgain) {
  TestNode node(sentinel_config(*topology_));
  wait_ready(node);
  WsClient alice(node.port());
  subscribe(alice, "news");
  ASSERT_EQ(alice.request({{"op", "publish"}, {"room", "news"}, {"data", 1}})["ok"], true);
  EXPECT_EQ(alice.read_json()["data"], 1);
  // A replica of nothing that answers: it refuses writes, and nothing replicates into it.
  std::uint16_t master = topology_->master_port();
  ASSERT_EQ(RedisSentinelProcess::cli(master, "REPLICAOF 127.0.0.1 1"), "OK\n");
  json refused = alice.request({{"op", "publish"}, {"room", "news"}, {"data", 2}});
  EXPECT_EQ(refused["error"]["code"], "unavailable") << refused.dump();
  EXPECT_TRUE(eventually([&] { return http_get(node.port(), "/readyz").status == 503; }))
      << "the node kept its connections to a replica";
  ASSERT_EQ(RedisSentinelProcess::cli(master, "REPLICAOF NO ONE"), "OK\n");
  wait_ready(node);
  ASSERT_EQ(alice.request({{"op", "publish"}, {"room", "news"}, {"data", 3}})["ok"], true);
  json m = alice.read_until([](const json& j) { return j.value("type", "") == "message"; });
  EXPECT_EQ(m["data"], 3);
  EXPECT_EQ(m["offset"], 2);  // the same numbering: message 2 was never written
}

// SIGKILL of the master while a client publishes with --redis-wait-replicas 1: both nodes go
// unready, follow the promoted replica within 10 s and are ready again; every acked message is
// in the promoted replica's history, so a subscriber that comes back with `since` gets each once,
// in order, under the same epoch (recovered). Publishes the promoted master cannot replicate
// (its replica is dead) are refused and counted, until the killed server is back as its replica.
namespace {

// Publishes to "busy" on node a while `kill_master` kills the Redis master that holds it, until
// both nodes are ready again (within 10 s; node b's /readyz, whose subscriber is in the room,
// went 503 meanwhile, and node a's too with `one_master`: with one Redis master, every node
// waits for it; with a Redis Cluster, only the nodes with rooms on it): every acked message
// reaches a subscriber that comes back with `since` and the live subscriber on node b, once each,
// in order, under the same epoch. The promoted master has no replica yet (its replica was the
// one killed): publishes are refused until `restore` brings one back.
void expect_a_failover_to_lose_no_acked_message(server::Config config, const std::function<void()>& kill_master,
                                                const std::function<void()>& restore, bool one_master) {
  config.redis_wait_replicas = 1;
  config.history_size = 10000;
  TestNode a(config), b(config);
  wait_ready(a);
  wait_ready(b);
  Reader live(b.port(), "busy");  // stays subscribed through the failover, on the other node
  live.run();

  // Both nodes' readiness, sampled from before the kill until both are back.
  std::atomic<bool> stop_watching{false}, a_unready{false}, b_unready{false};
  std::thread watcher([&] {
    while (!stop_watching) {
      if (http_get(a.port(), "/readyz").status == 503) a_unready = true;
      if (http_get(b.port(), "/readyz").status == 503) b_unready = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  std::thread killer;
  std::atomic<bool> killed{false};
  struct Joiner {  // on every way out, failed assertions included
    std::function<void()> f;
    ~Joiner() { f(); }
  } joiner{[&] {
    stop_watching = true;
    if (watcher.joinable()) watcher.join();
    if (killer.joinable()) killer.join();
    if (live.thread.joinable()) live.thread.join();  // reads until "end", or its deadline
  }};
  std::map<std::uint64_t, int> acked;  // offset → data
  const std::string epoch = live.start.epoch;  // the room's, from before the first message
  WsClient publisher(a.port());
  publisher.set_deadline(std::chrono::seconds(30));
  int refused = 0;
  auto started = std::chrono::steady_clock::now();
  for (int n = 0;; ++n) {
    if (n == 50) {
      killer = std::thread([&] {
        kill_master();
        killed = true;
      });
      started = std::chrono::steady_clock::now();
    }
    json reply = publisher.request({{"op", "publish"}, {"room", "busy"}, {"data", n}});
    if (reply.value("ok", false)) {
      acked[reply["offset"].get<std::uint64_t>()] = n;
    } else {
      ASSERT_EQ(reply["error"]["code"], "unavailable") << reply.dump();
      ++refused;
    }
    if (killed && (a_unready || !one_master) && b_unready && http_get(a.port(), "/readyz").status == 200 &&
        http_get(b.port(), "/readyz").status == 200)
      break;
    ASSERT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10)) << "the nodes never followed";
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  killer.join();
  stop_watching = true;
  watcher.join();
  EXPECT_GT(refused, 0);
  // The promoted master has no replica yet: its WAIT finds none, and the publish is refused (with
  // one master, that WAIT is what refuses it; a Redis Cluster's master may also refuse it while
  // it settles).
  json alone = publisher.request({{"op", "publish"}, {"room", "busy"}, {"data", "alone"}});
  EXPECT_EQ(alone["error"]["code"], "unavailable") << alone.dump();
  if (one_master) EXPECT_NE(metric(a, "switchboard_redis_replica_waits_short_total"), "0");
  restore();
  json reply;
  ASSERT_TRUE(eventually([&] {
    reply = publisher.request({{"op", "publish"}, {"room", "busy"}, {"data", "end"}});
    return reply.value("ok", false);
  })) << reply.dump();
  acked[reply["offset"].get<std::uint64_t>()] = std::numeric_limits<int>::max();

  // A subscriber that comes back with `since` (the position before the first message).
  WsClient back(b.port());
  back.set_deadline(std::chrono::seconds(10));
  json sub = back.request({{"op", "subscribe"}, {"room", "busy"}, {"since", {{"offset", 0}, {"epoch", epoch}}}});
  ASSERT_EQ(sub["recovered"], true) << sub.dump();
  EXPECT_EQ(sub["epoch"], epoch);
  std::map<std::uint64_t, json> got;
  std::uint64_t last = 0;
  while (last < acked.rbegin()->first) {
    json m = back.read_json();
    if (m["type"] == "subscribed") {
      // Messages the dead master had numbered and delivered but not replicated (never acked:
      // refused) are noted lost: the position after them comes first.
      ASSERT_EQ(m["recovered"], false) << m.dump();
      ASSERT_GE(m["offset"].get<std::uint64_t>(), last) << m.dump();
      for (auto o = last + 1; o <= m["offset"].get<std::uint64_t>(); ++o) ASSERT_FALSE(acked.count(o)) << m.dump();
      last = m["offset"];
      continue;
    }
    ASSERT_EQ(m["type"], "message") << m.dump();
    ASSERT_GT(m["offset"].get<std::uint64_t>(), last) << "out of order or twice";
    last = m["offset"];
    got[last] = m["data"];
  }
  for (const auto& [offset, n] : acked) {
    ASSERT_TRUE(got.count(offset)) << "acked message " << n << " (offset " << offset << ") lost";
    if (n != std::numeric_limits<int>::max()) EXPECT_EQ(got[offset], n);
  }
  // The live subscriber, on the other node, got them too, once each, in order (caught up from
  // the history after its node followed the promoted replica).
  // It stopped at the first "end" delivered, which may be a refused one (delivered all the same):
  // it reads on to the acked one.
  live.thread.join();
  auto is_message = [](const json& f) { return f.value("type", "") == "message"; };
  while (live.frames.back().value("offset", std::uint64_t{0}) < acked.rbegin()->first)
    live.frames.push_back(live.client.read_until(is_message));
  std::uint64_t live_last = 0;
  std::set<std::uint64_t> live_got;
  for (const auto& f : live.frames) {
    if (f.value("type", "") != "message") continue;
    ASSERT_GT(f["offset"].get<std::uint64_t>(), live_last) << f.dump();
    live_last = f["offset"];
    live_got.insert(live_last);
  }
  for (const auto& [offset, n] : acked) EXPECT_TRUE(live_got.count(offset)) << "live subscriber missed " << n;
  std::cout << acked.size() << " messages acked, " << refused << " refused during the failover\n";
}

}  // namespace

TEST_F(ClusterSentinel, AFailoverLosesNoAckedMessageWithWaitReplicas) {
  expect_a_failover_to_lose_no_acked_message(
      sentinel_config(*topology_), [] { topology_->kill_master(); }, [] { topology_->restore(); }, true);
}

// The same on a Redis Cluster: the master of the room's slot is killed, its replica promoted; the
// other masters' rooms are not held up (cluster-require-full-coverage no).
TEST(ClusterOnRedisCluster, AFailoverLosesNoAckedMessageWithWaitReplicas) {
  RedisClusterProcess redis({.masters = 3, .replicas = 1, .require_full_coverage = false});
  int slot = std::stoi(redis.cli(0, "CLUSTER KEYSLOT busy"));
  std::size_t killed = 0;
  expect_a_failover_to_lose_no_acked_message(
      redis_cluster_config(redis), [&] { killed = redis.kill_master_of(slot); },
      [&] {
        redis.restart(killed);
        redis.await_healthy();
      },
      false);
}

// A master without replica dies: its rooms answer unavailable (publish, subscribe), and the node
// is not ready while it has subscribers in one of them; rooms on the other masters carry on;
// when the master is back, so are its rooms.
TEST(ClusterOnRedisCluster, ARoomWhoseMasterIsDownIsUnavailableWhileTheOthersCarryOn) {
  RedisClusterProcess redis({.masters = 3, .require_full_coverage = false});
  TestNode node(redis_cluster_config(redis));
  wait_ready(node);
  // Two rooms on different masters.
  std::string down = "down", up;
  int down_slot = std::stoi(redis.cli(0, "CLUSTER KEYSLOT " + down));
  for (int i = 0; up.empty(); ++i) {
    std::string name = "up-" + std::to_string(i);
    if (redis.master_of(std::stoi(redis.cli(0, "CLUSTER KEYSLOT " + name))) != redis.master_of(down_slot)) up = name;
  }
  WsClient alice(node.port()), bob(node.port());
  subscribe(alice, up);
  subscribe(bob, down);  // the node serves the room: not ready while its master is down
  std::size_t killed = redis.kill_master_of(down_slot);
  ASSERT_TRUE(eventually([&] { return http_get(node.port(), "/readyz").status == 503; }));
  ASSERT_TRUE(eventually([&] {
    return alice.request({{"op", "publish"}, {"room", down}, {"data", 1}})["error"]["code"] == "unavailable";
  }));
  EXPECT_EQ(alice.request({{"op", "subscribe"}, {"room", down}})["error"]["code"], "unavailable");
  bob.close();  // the room is left: the node is ready again, the dead master's rooms aside
  ASSERT_TRUE(eventually([&] { return http_get(node.port(), "/readyz").status == 200; }));
  // The other master's room: published and delivered meanwhile.
  EXPECT_EQ(alice.request({{"op", "publish"}, {"room", up}, {"data", "still here"}})["ok"], true);
  EXPECT_EQ(alice.read_json()["data"], "still here");

  // Back with its slots (no replica took them); for a moment (up to the node timeout) a master
  // that restarted answers CLUSTERDOWN, and the room is still unavailable.
  redis.restart(killed);
  wait_ready(node);
  ASSERT_TRUE(eventually([&] { return alice.request({{"op", "subscribe"}, {"room", down}}).value("ok", false); }));
  ASSERT_TRUE(eventually([&] {
    return alice.request({{"op", "publish"}, {"room", down}, {"data", "back"}}).value("ok", false);
  }));
  EXPECT_EQ(alice.read_json()["data"], "back");
}

// A subscribe the room's master does not confirm (here it pauses every client for 2 s) is
// refused as unavailable once the node's reply timeout (half --node-timeout) has passed, rather
// than left unanswered; once the master answers again, subscribing works.
TEST(ClusterOnRedisCluster, ASubscribeTheMasterDoesNotConfirmIsRefusedInTime) {
  RedisClusterProcess redis({.masters = 1});
  auto config = redis_cluster_config(redis);
  config.node_timeout = std::chrono::milliseconds(600);  // replies awaited for 300 ms
  TestNode node(config);
  wait_ready(node);
  WsClient alice(node.port());
  redis.cli(0, "CLIENT PAUSE 2000 ALL");
  json reply = alice.request({{"op", "subscribe"}, {"room", "quiet"}});
  EXPECT_EQ(reply["error"]["code"], "unavailable") << reply.dump();  // not an ok after the pause
  ASSERT_TRUE(eventually([&] { return alice.request({{"op", "subscribe"}, {"room", "quiet"}}).value("ok", false); }));
  EXPECT_EQ(alice.request({{"op", "publish"}, {"room", "quiet"}, {"data", 1}})["ok"], true);
  EXPECT_EQ(alice.read_json()["data"], 1);
}

// A leave Redis refuses — the cluster is down: a slot lost its master, and with full coverage
// required every slot answers CLUSTERDOWN, as a restarted master does for a moment — is sent
// again until Redis takes it: once the cluster is up again the user is gone from presence.
TEST(ClusterOnRedisCluster, ALeaveRefusedWhileTheClusterIsDownIsSentAgain) {
  RedisClusterProcess redis({.masters = 1});
  auto config = redis_cluster_config(redis);
  config.node_timeout = std::chrono::seconds(60);  // no heartbeat script meets the outage below
  TestNode node(config);
  wait_ready(node);
  WsClient observer(node.port()), leaver(node.port());
  const std::string me = watch_presence(observer, "p");
  json reply = leaver.request({{"op", "subscribe"}, {"room", "p"}});
  ASSERT_EQ(reply["ok"], true) << reply.dump();
  auto users = [&] { return observer.request({{"op", "presence"}, {"room", "p"}})["users"]; };
  ASSERT_EQ(users().size(), 2u);

  // Scripts Redis refused (the leave's: nothing else runs one meanwhile).
  auto scripts_refused = [&] {
    std::string info = redis.cli(0, "INFO commandstats");
    auto at = info.find("cmdstat_evalsha:");
    at = at == std::string::npos ? at : info.find("rejected_calls=", at);
    return at == std::string::npos ? 0 : std::atoi(info.c_str() + at + 15);
  };
  const int refused_before = scripts_refused();
  const int slot = (std::stoi(redis.cli(0, "CLUSTER KEYSLOT {p}")) + 1) % 16384;
  ASSERT_EQ(redis.cli(0, "CLUSTER DELSLOTS " + std::to_string(slot)), "OK\n");
  ASSERT_TRUE(eventually([&] { return redis.cli(0, "CLUSTER INFO").find("cluster_state:fail") != std::string::npos; }));
  leaver.close();
  ASSERT_TRUE(eventually([&] { return scripts_refused() > refused_before; }));
  ASSERT_EQ(redis.cli(0, "CLUSTER ADDSLOTS " + std::to_string(slot)), "OK\n");
  ASSERT_TRUE(eventually([&] { return users().size() == 1; })) << users().dump();
  EXPECT_EQ(users()[0]["user"], me);
}

// A master that restarted empty gets the node's joins of its rooms again — and the other
// masters none: with many connections, one master coming back does not make every node send all
// its joins to all of them.
TEST(ClusterOnRedisCluster, AMasterThatRestartedGetsTheJoinsOfItsRoomsAndTheOthersNone) {
  RedisClusterProcess redis({.masters = 3, .require_full_coverage = false});
  auto config = redis_cluster_config(redis);
  config.node_timeout = std::chrono::seconds(60);  // heartbeats 20 s apart: none during the restart
  TestNode node(config);
  wait_ready(node);
  // 8 rooms on each master, a connection in each.
  std::map<std::size_t, std::vector<std::string>> rooms;  // master → its rooms
  for (int i = 0; rooms.size() < 3 || std::any_of(rooms.begin(), rooms.end(), [](auto& r) { return r.second.size() < 8; }); ++i) {
    std::string room = "r" + std::to_string(i);
    auto& list = rooms[redis.master_of(std::stoi(redis.cli(0, "CLUSTER KEYSLOT {" + room + "}")))];
    if (list.size() < 8) list.push_back(room);
  }
  std::vector<std::unique_ptr<WsClient>> clients;
  for (auto& [master, list] : rooms)
    for (auto& room : list) {
      clients.push_back(std::make_unique<WsClient>(node.port()));
      json reply = clients.back()->request({{"op", "subscribe"}, {"room", room}});
      ASSERT_EQ(reply["ok"], true) << reply.dump();
    }
  // A master that holds neither the list of nodes nor this node's set of connections.
  std::set<std::size_t> holders{redis.master_of(std::stoi(redis.cli(0, "CLUSTER KEYSLOT {nodes}")))};
  for (auto& [master, list] : rooms)
    if (redis.cli(master, "--scan --pattern 'test:node:*:conns'").size() > 0) holders.insert(master);
  std::size_t restarted = rooms.size();
  for (auto& [master, list] : rooms)
    if (!holders.count(master)) restarted = master;
  ASSERT_LT(restarted, rooms.size());
  auto scripts_run = [&](std::size_t master) {
    std::string info = redis.cli(master, "INFO commandstats");
    auto at = info.find("cmdstat_evalsha:calls=");
    return at == std::string::npos ? 0 : std::atoi(info.c_str() + at + 22);
  };
  std::map<std::size_t, int> before;
  for (auto& [master, list] : rooms) before[master] = scripts_run(master);

  redis.kill(restarted);
  redis.restart(restarted);  // empty: no persistence
  redis.await_healthy();
  const std::string room = rooms[restarted].front();
  ASSERT_TRUE(eventually([&] { return clients.front()->request({{"op", "presence"}, {"room", room}})["users"].size() == 1; },
                         std::chrono::seconds(10)));
  for (auto& [master, list] : rooms)
    if (master != restarted) EXPECT_LT(scripts_run(master) - before[master], 8) << "master " << master;
}

// A room's publishes that come while its batch is on its way to a Redis Cluster go together as
// its next batch: a burst takes a few script calls, not one each, and keeps its order.
TEST(ClusterOnRedisCluster, ARoomsBurstOfPublishesGoesInFewScriptCallsInOrder) {
  RedisClusterProcess redis({.masters = 1});
  TestNode node(redis_cluster_config(redis));
  wait_ready(node);
  WsClient alice(node.port());
  subscribe(alice, "burst");
  auto scripts_run = [&] {
    std::string info = redis.cli(0, "INFO commandstats");
    auto at = info.find("cmdstat_evalsha:calls=");
    return at == std::string::npos ? 0 : std::atoi(info.c_str() + at + 22);
  };
  const int before = scripts_run();
  constexpr int kBurst = 300;
  // Redis holds the room's first batch (writes paused) until the node has taken every publish of
  // the burst: they wait for it together, whatever the pace at which they arrived.
  const auto published = node.metrics().messages_published.load();
  ASSERT_EQ(redis.cli(0, "CLIENT PAUSE 20000 WRITE"), "OK\n");
  for (int n = 0; n < kBurst; ++n) alice.send_json({{"op", "publish"}, {"room", "burst"}, {"data", n}, {"id", n}});
  EXPECT_TRUE(eventually([&] { return node.metrics().messages_published.load() - published == kBurst; }));
  ASSERT_EQ(redis.cli(0, "CLIENT UNPAUSE"), "OK\n");
  int acked = 0, next = 0;
  while (acked < kBurst || next < kBurst) {
    json f = alice.read_json();
    if (f.contains("id")) {
      ASSERT_EQ(f["ok"], true) << f.dump();
      ++acked;
    } else {
      ASSERT_EQ(f["type"], "message") << f.dump();
      ASSERT_EQ(f["data"], next) << f.dump();  // in publish order
      ASSERT_EQ(f["offset"], ++next) << f.dump();
    }
  }
  // The first batch, then the rest in batches of up to RedisBroker::kMaxBatch (256): a few calls
  // (a heartbeat's scripts may run too), not one per publish.
  EXPECT_LT(scripts_run() - before, 10);
}

// A room's slot moves to another master (as `redis-cli --cluster reshard` moves it: IMPORTING /
// MIGRATING, its keys MIGRATEd, then the new owner set) while a publisher publishes to it: every
// subscriber, on both nodes, gets every acked message once, in order, with no announcement.
TEST(ClusterOnRedisCluster, ARoomMovedToAnotherMasterWhilePublishingLosesNothing) {
  RedisClusterProcess redis({.masters = 3});
  TestNode a(redis_cluster_config(redis)), b(redis_cluster_config(redis));
  wait_ready(a);
  wait_ready(b);
  const std::string room = "moving";
  const int slot = std::stoi(redis.cli(0, "CLUSTER KEYSLOT " + room));
  const std::size_t from = redis.master_of(slot), to = (from + 1) % 3;
  auto id_of = [&](std::size_t node) {
    std::string out = redis.cli(node, "CLUSTER MYID");
    return out.substr(0, out.find('\n'));
  };
  Reader on_a(a.port(), room), on_b(b.port(), room);
  on_a.run();
  on_b.run();
  WsClient publisher(a.port());
  std::vector<int> acked;
  std::atomic<bool> moved{false};
  std::thread mover([&] {
    const std::string s = std::to_string(slot);
    redis.cli(to, "CLUSTER SETSLOT " + s + " IMPORTING " + id_of(from));
    redis.cli(from, "CLUSTER SETSLOT " + s + " MIGRATING " + id_of(to));
    std::string keys = redis.cli(from, "CLUSTER GETKEYSINSLOT " + s + " 100");
    for (std::size_t at = 0, end; (end = keys.find('\n', at)) != std::string::npos; at = end + 1)
      redis.cli(from, "MIGRATE 127.0.0.1 " + std::to_string(redis.port(to)) + " " + keys.substr(at, end - at) + " 0 5000");
    redis.cli(to, "CLUSTER SETSLOT " + s + " NODE " + id_of(to));
    redis.cli(from, "CLUSTER SETSLOT " + s + " NODE " + id_of(to));
    moved = true;
  });
  struct Joiner {
    std::thread& t;
    ~Joiner() {
      if (t.joinable()) t.join();
    }
  } joiner{mover};
  // Publishes until well after the move (refused ones are tried again: the count is of acks).
  int n = 0, after_move = 0;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (after_move < 20) {
    ASSERT_LT(std::chrono::steady_clock::now(), until) << "publishes never went through after the move";
    json reply = publisher.request({{"op", "publish"}, {"room", room}, {"data", n}});
    if (reply.value("ok", false)) {
      acked.push_back(n++);
      if (moved) ++after_move;
    } else {
      ASSERT_EQ(reply["error"]["code"], "unavailable") << reply.dump();
    }
  }
  mover.join();
  EXPECT_EQ(redis.master_of(slot), to);
  ASSERT_TRUE(publisher.request({{"op", "publish"}, {"room", room}, {"data", "end"}}).value("ok", false));
  for (Reader* reader : {&on_a, &on_b}) {
    reader->thread.join();
    std::vector<int> got;
    std::uint64_t last = reader->start.offset;
    for (const auto& f : reader->frames) {
      ASSERT_EQ(f.value("type", ""), "message") << f.dump();  // no announcement: nothing was lost
      ASSERT_EQ(f["offset"].get<std::uint64_t>(), last + 1) << f.dump();
      last = f["offset"];
      if (f["data"] != "end") got.push_back(f["data"]);
    }
    EXPECT_EQ(got, acked);
  }
}

// --redis-wait-replicas on one Redis (--redis): without a replica, each publish's WAIT finds none
// and the publisher hears unavailable — though the message went out (the script ran), which is
// what PROTOCOL.md warns of — and the wait that fell short is counted; once a replica follows
// that Redis, publishes are acked again.
TEST(Cluster, WaitReplicasAcksOnlyWhatAReplicaHas) {
  RedisServer redis;
  auto config = cluster_config(redis);
  config.redis_wait_replicas = 1;
  config.redis_wait_timeout = std::chrono::milliseconds(50);
  TestNode node(config);
  wait_ready(node);
  WsClient alice(node.port());
  subscribe(alice, "news");
  json refused = alice.request({{"op", "publish"}, {"room", "news"}, {"data", 1}});
  EXPECT_EQ(refused["error"]["code"], "unavailable") << refused.dump();
  EXPECT_EQ(alice.read_json()["data"], 1);  // delivered all the same
  EXPECT_EQ(metric(node, "switchboard_redis_replica_waits_short_total"), "1");

  // A replica that loads the master's data from the socket (no file in the test's directory).
  RedisServer replica;
  redis.cli("CONFIG SET repl-diskless-sync-delay 0");
  replica.cli("CONFIG SET repl-diskless-load swapdb");
  replica.cli("REPLICAOF 127.0.0.1 " + std::to_string(redis.port()));
  // Once in sync, and online for the master, the replica confirms within the timeout — the
  // first WAITs after its sync may still fall short (measured: up to a second, until the
  // replica's first periodic ACK), and those publishes are refused: each is retried.
  ASSERT_TRUE(eventually([&] { return redis.cli("INFO replication").find("state=online") != std::string::npos; },
                         std::chrono::seconds(10)));
  int n = 2;
  json acked;
  ASSERT_TRUE(eventually(
      [&] {
        acked = alice.request({{"op", "publish"}, {"room", "news"}, {"data", n++}});
        return acked.value("ok", false);
      },
      std::chrono::seconds(5)))
      << acked.dump();
  EXPECT_EQ(acked["offset"], n - 1);  // every publish numbered, acked or not
  json delivered = alice.read_until([&](const json& j) { return j.value("data", 0) == n - 1; });
  EXPECT_EQ(delivered["offset"], n - 1);
  EXPECT_EQ(metric(node, "switchboard_redis_replica_waits_short_total"), std::to_string(n - 2));
}

// A Redis that refuses WAIT itself (here an ACL without it): every publish is refused
// (unavailable) — never acked without the replicas' word — and it is not counted as replicas
// falling short (the node logs the refusal instead).
TEST(Cluster, WaitReplicasWithARedisThatRefusesWaitRefusesPublishes) {
  RedisServer redis;
  ASSERT_EQ(redis.cli("ACL SETUSER default -wait"), "OK\n");
  auto config = cluster_config(redis);
  config.redis_wait_replicas = 1;
  TestNode node(config);
  wait_ready(node);
  WsClient alice(node.port());
  json refused = alice.request({{"op", "publish"}, {"room", "news"}, {"data", 1}});
  EXPECT_EQ(refused["error"]["code"], "unavailable") << refused.dump();
  EXPECT_EQ(metric(node, "switchboard_redis_replica_waits_short_total"), "0");
}

}  // namespace cluster_test
