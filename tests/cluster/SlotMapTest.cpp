// SlotMap: CLUSTER SLOTS replies of several Redis versions and endpoint kinds (canned, as Redis
// writes them in RESP2), MOVED corrections, and the reply of a real 3-master, 3-replica cluster.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "RedisClusterProcess.h"
#include "redis/HashSlot.h"
#include "redis/SlotMap.h"

using namespace switchboard::cluster;
using switchboard::test::RedisClusterProcess;

namespace {

// RESP2 text, built up.
std::string bulk(const std::string& s) { return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n"; }
std::string nil() { return "$-1\r\n"; }
std::string integer(long long n) { return ":" + std::to_string(n) + "\r\n"; }
std::string array(const std::vector<std::string>& items) {
  std::string out = "*" + std::to_string(items.size()) + "\r\n";
  for (const auto& i : items) out += i;
  return out;
}
// A node as Redis 7.0 writes it: [endpoint, port, id, {more names}].
std::string node70(const std::string& endpoint, int port, const std::string& id,
                   const std::vector<std::string>& names = {}) {
  return array({endpoint, integer(port), bulk(id), array(names)});
}

using Reply = std::unique_ptr<redisReply, void (*)(void*)>;
Reply parse_resp(const std::string& text) {
  redisReader* reader = redisReaderCreate();
  redisReaderFeed(reader, text.data(), text.size());
  void* reply = nullptr;
  int status = redisReaderGetReply(reader, &reply);
  redisReaderFree(reader);
  EXPECT_EQ(status, REDIS_OK);
  EXPECT_NE(reply, nullptr) << "incomplete RESP";
  return Reply(static_cast<redisReply*>(reply), freeReplyObject);
}

std::optional<SlotMap> slot_map(const std::string& text, std::string* error = nullptr) {
  auto reply = parse_resp(text);
  return SlotMap::parse(reply.get(), "10.0.0.9", error);
}

}  // namespace

TEST(SlotMap, ParsesRedis70RepliesWithReplicasAndExtraNames) {
  std::string text = array({
      array({integer(0), integer(5460),
             node70(bulk("10.0.0.1"), 7000, "m1", {bulk("hostname"), bulk("a.example")}),
             node70(bulk("10.0.0.4"), 7003, "r1")}),
      array({integer(5461), integer(10922), node70(bulk("10.0.0.2"), 7001, "m2"),
             node70(bulk("10.0.0.5"), 7004, "r2")}),
      array({integer(10923), integer(16383), node70(bulk("10.0.0.3"), 7002, "m3")}),
  });
  auto map = slot_map(text);
  ASSERT_TRUE(map);
  EXPECT_EQ(map->covered(), 16384u);
  ASSERT_EQ(map->shards().size(), 3u);
  const auto* first = map->shard_of(0);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->master.host, "10.0.0.1");
  EXPECT_EQ(first->master.port, 7000);
  EXPECT_EQ(first->master.id, "m1");
  ASSERT_EQ(first->replicas.size(), 1u);
  EXPECT_EQ(first->replicas[0].describe(), "10.0.0.4:7003");
  EXPECT_EQ(map->shard_of(5460), first);
  EXPECT_EQ(map->shard_of(5461)->master.id, "m2");
  EXPECT_EQ(map->shard_of(16383)->master.id, "m3");
  EXPECT_TRUE(map->shard_of(16383)->replicas.empty());
  EXPECT_EQ(map->shard_of(-1), nullptr);
  EXPECT_EQ(map->shard_of(16384), nullptr);
  EXPECT_EQ(map->shard_of(HashSlot::of("foo"))->master.id, "m3");  // 12182
}

TEST(SlotMap, OlderRepliesAndRangesOfOneMasterMakeOneShardAndGapsAreNotServed) {
  // Redis 3.0's two-element nodes (no id), then a 3-element node (3.2 to 6.2), two ranges each.
  std::string text = array({
      array({integer(0), integer(99), array({bulk("10.0.0.1"), integer(7000)})}),
      array({integer(200), integer(299), array({bulk("10.0.0.2"), integer(7001), bulk("m2")})}),
      array({integer(300), integer(300), array({bulk("10.0.0.1"), integer(7000)})}),
      array({integer(16000), integer(16383), array({bulk("10.0.0.2"), integer(7001), bulk("m2")}),
             array({bulk("10.0.0.5"), integer(7004), bulk("r2")})}),
  });
  auto map = slot_map(text);
  ASSERT_TRUE(map);
  EXPECT_EQ(map->shards().size(), 2u);
  EXPECT_EQ(map->covered(), 100u + 100u + 1u + 384u);
  EXPECT_EQ(map->shard_of(300), map->shard_of(0));
  EXPECT_TRUE(map->shard_of(0)->master.id.empty());
  EXPECT_EQ(map->shard_of(16383), map->shard_of(250));
  EXPECT_EQ(map->shard_of(250)->replicas.size(), 1u);
  EXPECT_EQ(map->shard_of(100), nullptr);
  EXPECT_EQ(map->shard_of(15999), nullptr);
}

TEST(SlotMap, NullAndEmptyEndpointsAreTheAnsweringNodeAndAQuestionMarkIsUnusable) {
  std::string text = array({
      array({integer(0), integer(1), node70(nil(), 7000, "m1"), node70(bulk(""), 7003, "r1")}),
      array(
          {integer(2), integer(16383), node70(bulk("?"), 7001, "m2"), node70(bulk("b.example"), 7004, "r2")}),
  });
  auto map = slot_map(text);
  ASSERT_TRUE(map);
  EXPECT_EQ(map->shard_of(0)->master.describe(), "10.0.0.9:7000");
  EXPECT_TRUE(map->shard_of(0)->master.usable());
  EXPECT_EQ(map->shard_of(0)->replicas[0].describe(), "10.0.0.9:7003");
  EXPECT_EQ(map->shard_of(2)->master.host, "?");
  EXPECT_FALSE(map->shard_of(2)->master.usable());
  EXPECT_EQ(map->shard_of(2)->replicas[0].host, "b.example");
  EXPECT_EQ(map->covered(), 16384u);
}

TEST(SlotMap, AnEmptyReplyServesNothingAndOtherShapesAreRefused) {
  auto empty = slot_map(array({}));
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->covered(), 0u);
  EXPECT_EQ(empty->shard_of(0), nullptr);
  for (const std::string& text : {
           bulk("nope"),
           std::string("-ERR This instance has cluster support disabled\r\n"),
           array({array({integer(0), integer(16383)})}),
           array({array({bulk("0"), integer(16383), node70(bulk("h"), 1, "m")})}),
           array({array({integer(0), integer(16384), node70(bulk("h"), 1, "m")})}),
           array({array({integer(5), integer(4), node70(bulk("h"), 1, "m")})}),
           array({array({integer(0), integer(1), array({bulk("h")})})}),
           array({array({integer(0), integer(1), array({integer(1), integer(1)})})}),
           array({array({integer(0), integer(1), array({bulk("h"), integer(70000)})})}),
           array({array({integer(0), integer(1), array({bulk("h"), bulk("7000")})})}),
       }) {
    std::string error;
    EXPECT_FALSE(slot_map(text, &error)) << text;
    EXPECT_FALSE(error.empty()) << text;
  }
}

TEST(SlotMap, AMovedSlotGoesToItsNewMaster) {
  auto map = slot_map(array({
      array({integer(0), integer(8191), node70(bulk("10.0.0.1"), 7000, "m1")}),
      array({integer(8192), integer(16383), node70(bulk("10.0.0.2"), 7001, "m2")}),
  }));
  ASSERT_TRUE(map);
  EXPECT_EQ(map->version(), 0u);
  map->apply_moved(5, {"10.0.0.2", 7001, ""});
  EXPECT_EQ(map->shard_of(5)->master.id, "m2");  // the known shard of that address
  EXPECT_EQ(map->shard_of(6)->master.id, "m1");
  EXPECT_EQ(map->version(), 1u);
  map->apply_moved(9000, {"10.0.0.3", 7002, ""});  // a master the map did not know
  EXPECT_EQ(map->shards().size(), 3u);
  EXPECT_EQ(map->shard_of(9000)->master.describe(), "10.0.0.3:7002");
  EXPECT_EQ(map->version(), 2u);
  EXPECT_EQ(map->covered(), 16384u);
}

// The reply of a real cluster: three shards of a master and a replica each, as the cluster says.
TEST(SlotMap, AgreesWithARealClusterOfThreeMastersAndThreeReplicas) {
  RedisClusterProcess cluster({.masters = 3, .replicas = 1});
  // Redis 7.0 lists a replica only once it has replicated something (a replication offset
  // other than 0): a write on every master, then the map is read until the replicas show.
  std::set<std::size_t> written;
  for (int k = 0; written.size() < 3 && k < 1000; ++k) {
    std::string key = "k" + std::to_string(k);
    std::size_t master = cluster.master_of(HashSlot::of(key));
    if (written.insert(master).second) ASSERT_EQ(cluster.cli(master, "SET " + key + " 1"), "OK\n");
  }
  std::optional<SlotMap> map;
  std::string error;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    timeval timeout{2, 0};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", cluster.port(0), timeout);
    ASSERT_TRUE(c && !c->err);
    auto* raw = static_cast<redisReply*>(redisCommand(c, "CLUSTER SLOTS"));
    redisFree(c);
    ASSERT_NE(raw, nullptr);
    Reply reply(raw, freeReplyObject);
    map = SlotMap::parse(reply.get(), "127.0.0.1", &error);
    ASSERT_TRUE(map) << error;
    bool replicas_listed = true;
    for (const auto& shard : map->shards()) replicas_listed = replicas_listed && !shard.replicas.empty();
    if (replicas_listed || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(map->covered(), 16384u);
  ASSERT_EQ(map->shards().size(), 3u);
  for (const auto& shard : map->shards()) {
    EXPECT_TRUE(shard.master.usable());
    EXPECT_EQ(shard.master.host, "127.0.0.1");
    EXPECT_EQ(shard.master.id.size(), 40u);
    EXPECT_EQ(shard.replicas.size(), 1u);
  }
  for (int slot : {0, 5000, 8000, 12182, 16383}) {
    std::size_t master = cluster.master_of(slot);
    const auto* shard = map->shard_of(slot);
    ASSERT_NE(shard, nullptr);
    EXPECT_EQ(shard->master.port, cluster.port(master)) << slot;
    EXPECT_EQ(shard->master.id + "\n", cluster.cli(master, "CLUSTER MYID")) << slot;
  }
}
