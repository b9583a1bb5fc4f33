// Nodes on a one-master Redis Cluster (every slot on one node), with the tagged key layout
// (RedisKeys) and classic PUBLISH/SUBSCRIBE: the cluster's checks — messages across nodes once
// and in order, per-room numbering, history and recovery, presence across nodes, reaping a dead
// node — pass while Redis refuses every command or script whose keys span two slots (CROSSSLOT).
// No routing is needed on one master: this shows that each script touches one slot only.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "RedisClusterProcess.h"
#include "TestNode.h"
#include "WsClient.h"
#include "admission/Authentication.h"
#include "switchboard/cluster/RedisCluster.h"
#include "switchboard/protocol/Messages.h"

namespace tagged_keys_test {  // this suite's own names: the sanitizer builds compile suites together

using namespace switchboard;
using namespace switchboard::test;
using nlohmann::json;

namespace {

class TaggedKeys : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = new RedisClusterProcess({.masters = 1}); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override {
    ASSERT_EQ(cli("FLUSHALL"), "OK\n");
    ASSERT_EQ(cli("CONFIG RESETSTAT"), "OK\n");
  }
  void TearDown() override {
    nodes_.clear();  // stopped first: their last commands are counted too
    std::string errors = cli("INFO errorstats");
    EXPECT_EQ(errors.find("CROSSSLOT"), std::string::npos) << errors;
  }

  static std::string cli(const std::string& args) { return cluster_->cli(0, args); }

  server::Config config() const {
    auto c = TestNode::default_config();
    c.redis = cluster_->url(0);
    c.redis_prefix = "test:";
    c.history_size = 2000;
    return c;
  }
  // Tokens from /dev/token: users by name, so that one user can be on two nodes.
  server::Config named_users_config() const {
    auto c = config();
    c.allow_anonymous = false;
    c.dev = true;
    c.jwt_secret = "tagged-keys-test-secret";
    return c;
  }
  // A node whose broker and presence store name their keys in the tagged layout; ready.
  TestNode& node(server::Config c) {
    server::apply_dev_mode(c);
    auto authenticator = server::make_authenticator(c);
    cluster::RedisCluster::Options o;
    o.address = cluster::RedisAddress::parse(c.redis);
    o.prefix = c.redis_prefix;
    o.timing.reply_timeout =
        std::max<std::chrono::milliseconds>(c.node_timeout / 2, std::chrono::milliseconds(200));
    o.history = c.history_policy();
    o.node_timeout = c.node_timeout;
    o.key_layout = cluster::RedisCluster::Options::KeyLayout::tagged;
    auto redis = cluster::RedisCluster::make(std::move(o));
    server::ClusterParts parts;
    parts.broker = std::move(redis.broker);
    parts.presence = std::move(redis.presence);
    parts.control = std::move(redis.control);
    nodes_.push_back(std::make_unique<TestNode>(c, std::move(authenticator), std::move(parts)));
    wait_ready(*nodes_.back());
    return *nodes_.back();
  }
  void stop(TestNode& n) {
    std::erase_if(nodes_, [&](const auto& p) { return p.get() == &n; });
  }
  // Every key in Redis (redis-cli --scan prints one a line).
  static std::vector<std::string> keys() {
    std::vector<std::string> out;
    std::istringstream in(cli("--scan"));
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(line);
    std::sort(out.begin(), out.end());
    return out;
  }

  static RedisClusterProcess* cluster_;
  std::vector<std::unique_ptr<TestNode>> nodes_;
};

RedisClusterProcess* TaggedKeys::cluster_ = nullptr;

void subscribe(WsClient& client, const std::string& room) {
  ASSERT_EQ(client.request({{"op", "subscribe"}, {"room", room}})["ok"], true);
}

WsClient connect_as(TestNode& node, const std::string& user) {
  auto token = json::parse(http_get(node.port(), "/dev/token?user=" + user).body)["token"].get<std::string>();
  WsClient::Options o;
  o.target = "/ws?token=" + token;
  return WsClient(node.port(), o);
}

std::string watch_presence(WsClient& watcher, const std::string& room) {
  json reply = watcher.request({{"op", "subscribe"}, {"room", room}, {"presence", true}});
  EXPECT_EQ(reply["ok"], true) << reply.dump();
  return watcher.read_json()["user"];
}

}  // namespace

TEST_F(TaggedKeys, MessagesReachEverySubscriberOnEveryNodeOnceInOrderUnderTheRoomsTag) {
  std::vector<TestNode*> n{&node(config()), &node(config()), &node(config())};
  std::vector<WsClient> subscribers;
  for (int i = 0; i < 6; ++i) subscribers.emplace_back(n[i % 3]->port());
  for (auto& s : subscribers) subscribe(s, "chat:lobby");
  WsClient& publisher = subscribers[0];
  constexpr int kMessages = 200;
  for (int m = 0; m < kMessages; ++m)
    publisher.send_json({{"op", "publish"}, {"id", m}, {"room", "chat:lobby"}, {"data", m}});
  for (std::size_t i = 0; i < subscribers.size(); ++i) {
    for (int m = 0; m < kMessages; ++m) {
      json got = subscribers[i].read_until([](const json& j) { return j.value("type", "") == "message"; });
      ASSERT_EQ(got["data"], m) << "subscriber " << i;
      ASSERT_EQ(got["offset"], m + 1) << "subscriber " << i;
    }
    if (i != 0)
      EXPECT_TRUE(subscribers[i].quiet_for(std::chrono::milliseconds(50))) << "a duplicate on " << i;
  }
  std::size_t acks = 0;
  for (const auto& j : publisher.skipped()) acks += j.value("ok", false) ? 1 : 0;
  for (; acks < static_cast<std::size_t>(kMessages); ++acks)
    ASSERT_EQ(publisher.read_json()["ok"], true) << acks;
  // The room's keys carry the room as hash tag; the liveness keys the {nodes} tag.
  auto all = keys();
  EXPECT_TRUE(std::binary_search(all.begin(), all.end(), "test:history:{chat:lobby}"));
  EXPECT_TRUE(std::binary_search(all.begin(), all.end(), "test:stream:{chat:lobby}"));
  EXPECT_TRUE(std::binary_search(all.begin(), all.end(), "test:{nodes}"));
  for (const auto& key : all) EXPECT_NE(key.find('{'), std::string::npos) << key;
  EXPECT_EQ(cli("PUBSUB NUMSUB test:room:{chat:lobby}"), "test:room:{chat:lobby}\n3\n");
}

// Idempotency keys live in the room's slot: a batch with keys, and a retry through another node.
TEST_F(TaggedKeys, IdempotentPublishesKeepTheirKeysUnderTheRoomsTag) {
  TestNode& a = node(named_users_config());
  TestNode& b = node(named_users_config());
  WsClient sub = connect_as(a, "watcher"), pub = connect_as(a, "ada"), retry = connect_as(b, "ada");
  subscribe(sub, "chat:lobby");
  for (int m = 0; m < 20; ++m)
    pub.send_json({{"op", "publish"}, {"id", m}, {"room", "chat:lobby"}, {"data", m}, {"idem", "k" + std::to_string(m % 10)}});
  for (int m = 0; m < 20; ++m) {
    json ack = pub.read_json();
    ASSERT_EQ(ack["ok"], true) << ack;
    EXPECT_EQ(ack["offset"], ack["id"].get<int>() % 10 + 1) << ack;
  }
  json again = retry.request({{"op", "publish"}, {"room", "chat:lobby"}, {"data", 3}, {"idem", "k3"}});
  EXPECT_EQ(again["offset"], 4) << again;
  for (int m = 0; m < 10; ++m) EXPECT_EQ(sub.read_json()["data"], m);
  EXPECT_TRUE(sub.quiet_for(std::chrono::milliseconds(50)));
  auto all = keys();
  EXPECT_TRUE(std::binary_search(all.begin(), all.end(), "test:idem:{chat:lobby}|k3|u:ada"));
  std::string ttl = cli("PTTL 'test:idem:{chat:lobby}|k3|u:ada'");
  EXPECT_GT(std::stol(ttl), 0) << ttl;
  EXPECT_LE(std::stol(ttl), 300000) << ttl;
}

// A burst to several rooms (batched per room into one script call each) is numbered per room.
TEST_F(TaggedKeys, ABurstOfPublishesToSeveralRoomsIsNumberedPerRoomInOrder) {
  TestNode& a = node(config());
  TestNode& b = node(config());
  WsClient alice(a.port()), bob(b.port());
  const std::vector<std::string> rooms{"r0", "r1", "r2"};
  for (const auto& room : rooms) subscribe(bob, room);
  std::vector<std::string> room_of;
  std::map<std::string, int> sent;
  for (int m = 0; m < 600; ++m) {
    const std::string& room = rooms[m % 3];
    alice.send_json({{"op", "publish"}, {"id", room_of.size()}, {"room", room}, {"data", sent[room]++}});
    room_of.push_back(room);
  }
  std::map<std::string, std::set<std::uint64_t>> acked;
  for (std::size_t m = 0; m < room_of.size(); ++m) {
    json reply = alice.read_json();
    ASSERT_EQ(reply["ok"], true) << reply.dump();
    acked[room_of.at(reply["id"].get<std::size_t>())].insert(reply["offset"].get<std::uint64_t>());
  }
  std::map<std::string, std::uint64_t> last;
  for (std::size_t m = 0; m < room_of.size(); ++m) {
    json got = bob.read_until([](const json& j) { return j.value("type", "") == "message"; });
    std::string room = got["room"];
    ASSERT_EQ(got["offset"].get<std::uint64_t>(), last[room] + 1) << room;
    last[room] = got["offset"];
  }
  for (const auto& room : rooms) {
    EXPECT_EQ(acked[room].size(), 200u) << room;
    EXPECT_EQ(last[room], 200u) << room;
  }
}

// The history script reads the room's keys under its tag: a client that was away recovers
// through another node.
TEST_F(TaggedKeys, AClientThatWasAwayRecoversEveryMessageInOrderThroughTheOtherNode) {
  TestNode& a = node(config());
  TestNode& b = node(config());
  json since;
  {
    WsClient sub(a.port());
    json reply = sub.request({{"op", "subscribe"}, {"room", "chat:lobby"}});
    since = {{"offset", reply["offset"]}, {"epoch", reply["epoch"]}};
  }
  WsClient pub(a.port());
  for (int m = 0; m < 100; ++m)
    ASSERT_EQ(pub.request({{"op", "publish"}, {"room", "chat:lobby"}, {"data", m}})["ok"], true);
  WsClient back(b.port());
  json reply = back.request({{"op", "subscribe"}, {"room", "chat:lobby"}, {"since", since}});
  ASSERT_EQ(reply["ok"], true) << reply;
  EXPECT_EQ(reply["recovered"], true);
  for (int m = 0; m < 100; ++m) {
    json got = back.read_json();
    ASSERT_EQ(got["offset"], m + 1) << got;
    ASSERT_EQ(got["data"], m);
  }
  json history = pub.request({{"op", "history"}, {"room", "chat:lobby"}, {"limit", 3}});
  ASSERT_EQ(history["ok"], true) << history;
  ASSERT_EQ(history["messages"].size(), 3u) << history;
  EXPECT_EQ(history["messages"][2]["offset"], 100);
}

TEST_F(TaggedKeys, PresenceMembersAndEventsAreClusterWideAndPerUser) {
  TestNode& a = node(named_users_config());
  TestNode& b = node(named_users_config());
  auto presence_sub = [](WsClient& c) {
    ASSERT_EQ(c.request({{"op", "subscribe"}, {"room", "lobby"}, {"presence", true}})["ok"], true);
  };
  WsClient alice = connect_as(a, "alice");
  presence_sub(alice);
  EXPECT_EQ(alice.read_json()["user"], "alice");
  WsClient bob = connect_as(b, "bob");
  presence_sub(bob);
  EXPECT_EQ(alice.read_json(),
            (json{{"type", "join"}, {"room", "lobby"}, {"user", "bob"}, {"info", {{"name", "bob"}}}}));
  EXPECT_EQ(bob.read_json()["user"], "bob");
  WsClient alice2 = connect_as(b, "alice");
  alice2.request({{"op", "subscribe"}, {"room", "lobby"}});
  json expected = {{{"user", "alice"}, {"info", {{"name", "alice"}}}, {"conns", 2}},
                   {{"user", "bob"}, {"info", {{"name", "bob"}}}, {"conns", 1}}};
  EXPECT_EQ(bob.request({{"op", "presence"}, {"room", "lobby"}})["users"], expected);
  EXPECT_EQ(alice.request({{"op", "presence"}, {"room", "lobby"}})["users"], expected);
  EXPECT_EQ(cli("HLEN test:presence:{lobby}:conns"), "3\n");

  alice.close();
  EXPECT_TRUE(eventually([&] {
    return bob.request({{"op", "presence"}, {"room", "lobby"}})["users"][0]["conns"] == 1;
  }));
  EXPECT_TRUE(bob.quiet_for(std::chrono::milliseconds(50)));
  alice2.close();
  EXPECT_EQ(bob.read_text(), *protocol::presence_event(protocol::PresenceEventType::leave, "lobby", "alice",
                                                       {{"name", "alice"}}));
  // Each node's set keeps what is left of its connections: node b, bob's.
  EXPECT_TRUE(eventually([&] {
    std::size_t sets = 0, members = 0;
    for (const auto& key : keys())
      if (key.starts_with("test:node:{")) {
        ++sets;
        members += static_cast<std::size_t>(std::stoul(cli("SCARD " + key)));
      }
    return sets == 1 && members == 1;
  }));
}

// Redis forgot the scripts (SCRIPT FLUSH): joins, lists, leaves and heartbeats still work.
TEST_F(TaggedKeys, JoinsListsAndLeavesWorkAfterRedisLostItsScripts) {
  auto c = named_users_config();
  c.node_timeout = std::chrono::milliseconds(600);
  TestNode& a = node(c);
  TestNode& b = node(c);
  WsClient alice = connect_as(a, "alice");
  ASSERT_EQ(alice.request({{"op", "subscribe"}, {"room", "lobby"}, {"presence", true}})["ok"], true);
  EXPECT_EQ(alice.read_json()["user"], "alice");
  cli("SCRIPT FLUSH");
  WsClient bob = connect_as(b, "bob");
  ASSERT_EQ(bob.request({{"op", "subscribe"}, {"room", "lobby"}, {"presence", true}})["ok"], true);
  EXPECT_EQ(alice.read_json(),
            (json{{"type", "join"}, {"room", "lobby"}, {"user", "bob"}, {"info", {{"name", "bob"}}}}));
  cli("SCRIPT FLUSH");
  EXPECT_EQ(alice.request({{"op", "presence"}, {"room", "lobby"}})["users"].size(), 2u);
  cli("SCRIPT FLUSH");
  bob.close();
  EXPECT_EQ(alice.read_json(),
            (json{{"type", "leave"}, {"room", "lobby"}, {"user", "bob"}, {"info", {{"name", "bob"}}}}));
  cli("SCRIPT FLUSH");
  const std::string beat = cli("GET test:{nodes}:last-beat");
  EXPECT_TRUE(eventually([&] { return cli("GET test:{nodes}:last-beat") != beat; }));
  EXPECT_TRUE(alice.quiet_for(c.node_timeout + c.node_timeout / 2));
  EXPECT_EQ(alice.request({{"op", "presence"}, {"room", "lobby"}})["users"].size(), 1u);
}

// A dead node ("ghost": listed, no alive key) is reaped step by step, each step on one slot: its
// users leave with the protocol's events, its set empties, it goes off the list. A node whose
// alive key is there ("back") is left alone.
TEST_F(TaggedKeys, ADeadNodesUsersAreReapedAndALiveNodeIsLeftAlone) {
  auto c = config();
  c.node_timeout = std::chrono::milliseconds(600);
  TestNode& survivor = node(c);
  WsClient watcher(survivor.port());
  std::string me = watch_presence(watcher, "r");
  // As a crash leaves it; the list last, so that the survivor's reaper sees it all.
  cli("EVAL \"redis.call('HSET', KEYS[1], 'ghost/1', 'cas/per', 'ghost/2', 'ann', 'back/1', 'bo') "
      "redis.call('HSET', KEYS[2], 'cas/per', 1, 'ann', 1, 'bo', 1) "
      "redis.call('HSET', KEYS[3], 'cas/per', cjson.encode({name='Casper'}), 'ann', '{}', 'bo', '{}')\" 3 "
      "'test:presence:{r}:conns' 'test:presence:{r}:users' 'test:presence:{r}:info'");
  cli("EVAL \"redis.call('SADD', KEYS[1], 'r' .. string.char(10) .. 'ghost/1', 'r' .. string.char(10) .. "
      "'ghost/2', "
      "'r' .. string.char(10) .. 'ghost/3')\" 1 'test:node:{ghost}:conns'");
  cli("EVAL \"redis.call('SADD', KEYS[1], 'r' .. string.char(10) .. 'back/1')\" 1 'test:node:{back}:conns'");
  cli("EVAL \"redis.call('SET', KEYS[1], '1', 'PX', 60000) redis.call('SADD', KEYS[2], 'ghost', 'back')\" 2 "
      "'test:{nodes}:alive:back' 'test:{nodes}'");
  std::set<std::string> leaves{watcher.read_text(), watcher.read_text()};
  EXPECT_EQ(leaves, (std::set<std::string>{*protocol::presence_event(protocol::PresenceEventType::leave, "r",
                                                                     "ann", json::object()),
                                           *protocol::presence_event(protocol::PresenceEventType::leave, "r",
                                                                     "cas/per", {{"name", "Casper"}})}));
  EXPECT_TRUE(eventually([&] { return cli("SISMEMBER 'test:{nodes}' ghost") == "0\n"; }));
  EXPECT_EQ(cli("EXISTS 'test:node:{ghost}:conns'"), "0\n");
  EXPECT_EQ(cli("SISMEMBER 'test:{nodes}' back"), "1\n");
  auto users = watcher.request({{"op", "presence"}, {"room", "r"}})["users"];
  ASSERT_EQ(users.size(), 2u) << users.dump();  // the living stay
  EXPECT_TRUE(users[0]["user"] == "bo" || users[1]["user"] == "bo") << users.dump();
  EXPECT_TRUE(users[0]["user"] == me || users[1]["user"] == me) << users.dump();
}

// A node the others took for dead (its alive key gone, its presence reaped, off the list)
// registers itself and its connections again on its next heartbeat.
TEST_F(TaggedKeys, ANodeTakenForDeadRegistersItsConnectionsAgain) {
  auto c = named_users_config();
  c.node_timeout = std::chrono::milliseconds(600);
  TestNode& n = node(c);
  WsClient alice = connect_as(n, "alice");
  ASSERT_EQ(alice.request({{"op", "subscribe"}, {"room", "lobby"}, {"presence", true}})["ok"], true);
  EXPECT_EQ(alice.read_json()["user"], "alice");
  std::string id = cli("SRANDMEMBER 'test:{nodes}'");
  ASSERT_FALSE(id.empty());
  id.pop_back();
  // The presence first, then the node off the list at once (one slot, one script): a heartbeat
  // in between must not find the node taken for dead before its connections are gone.
  cli("DEL 'test:presence:{lobby}:conns' 'test:presence:{lobby}:users' 'test:presence:{lobby}:info'");
  cli("EVAL \"redis.call('DEL', KEYS[1]) redis.call('SREM', KEYS[2], ARGV[1])\" 2 'test:{nodes}:alive:" + id +
      "' 'test:{nodes}' " + id);
  EXPECT_TRUE(eventually([&] { return cli("HGET 'test:presence:{lobby}:users' alice") == "1\n"; }));
  EXPECT_EQ(cli("SISMEMBER 'test:{nodes}' " + id), "1\n");
  EXPECT_EQ(cli("EXISTS 'test:{nodes}:alive:" + id + "'"), "1\n");
}

// A node that stops cleanly: its users leave, and it leaves the list (nobody reaps it).
TEST_F(TaggedKeys, ANodeThatStopsLetsItsUsersLeaveAndGoesOffTheList) {
  TestNode& a = node(named_users_config());
  TestNode& b = node(named_users_config());
  WsClient watcher = connect_as(a, "watcher");
  watch_presence(watcher, "lobby");
  WsClient bob = connect_as(b, "bob");
  ASSERT_EQ(bob.request({{"op", "subscribe"}, {"room", "lobby"}})["ok"], true);
  EXPECT_EQ(watcher.read_json()["type"], "join");
  EXPECT_EQ(cli("SCARD 'test:{nodes}'"), "2\n");
  stop(b);
  EXPECT_EQ(watcher.read_json(),
            (json{{"type", "leave"}, {"room", "lobby"}, {"user", "bob"}, {"info", {{"name", "bob"}}}}));
  EXPECT_TRUE(eventually([&] { return cli("SCARD 'test:{nodes}'") == "1\n"; }));
}

// The cluster's node restarts empty (SIGKILL, no persistence; its slots are in its nodes.conf):
// the node registers itself (its heartbeat goes first) and its connections again.
TEST_F(TaggedKeys, ARedisRestartRestoresPresence) {
  TestNode& n = node(config());
  WsClient watcher(n.port());
  std::string me = watch_presence(watcher, "r");
  cluster_->kill(0);
  cluster_->restart(0);
  cluster_->await_healthy();
  EXPECT_TRUE(eventually(
      [&] {
        auto r = watcher.request({{"op", "presence"}, {"room", "r"}});
        return r.contains("users") && r["users"].size() == 1 && r["users"][0]["user"] == me;
      },
      std::chrono::seconds(15)));
  EXPECT_EQ(cli("SCARD 'test:{nodes}'"), "1\n");
  EXPECT_EQ(cli("HLEN 'test:presence:{r}:conns'"), "1\n");
  wait_ready(n);
}

}  // namespace tagged_keys_test
