// The slot map a node keeps of a Redis Cluster: read from CLUSTER SLOTS replies (Redis 7's node
// entries, null, empty and "?" endpoints, malformed replies) and corrected by -MOVED; and the
// -MOVED / -ASK errors themselves.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <memory>

#include "redis/ClusterRedirect.h"
#include "redis/SlotMap.h"

using namespace switchboard::cluster;

namespace {

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

// A reply as hiredis reads it from RESP text.
Reply read(const std::string& resp) {
  std::unique_ptr<redisReader, void (*)(redisReader*)> reader(redisReaderCreate(), redisReaderFree);
  redisReaderFeed(reader.get(), resp.data(), resp.size());
  void* reply = nullptr;
  if (redisReaderGetReply(reader.get(), &reply) != REDIS_OK || !reply) throw std::runtime_error("not a reply");
  return Reply(static_cast<redisReply*>(reply));
}

std::string bulk(const std::string& s) { return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n"; }
std::string integer(long long i) { return ":" + std::to_string(i) + "\r\n"; }
// A node entry as Redis 7 sends it: endpoint, port, id, and a map (here empty).
std::string node(const std::string& endpoint, int port, const std::string& id) {
  return "*4\r\n" + endpoint + integer(port) + bulk(id) + "*0\r\n";
}
std::string range(int first, int last, const std::vector<std::string>& nodes) {
  std::string out = "*" + std::to_string(2 + nodes.size()) + "\r\n" + integer(first) + integer(last);
  for (auto& n : nodes) out += n;
  return out;
}
std::string slots(const std::vector<std::string>& ranges) {
  std::string out = "*" + std::to_string(ranges.size()) + "\r\n";
  for (auto& r : ranges) out += r;
  return out;
}

std::string where(const SlotMap& map, std::uint16_t slot) {
  const SlotMap::Node* n = map.master_of(slot);
  return n ? n->host + ":" + std::to_string(n->port) : "none";
}

}  // namespace

TEST(SlotMap, ReadsThreeMastersWithTheirReplicas) {
  auto reply = read(slots({
      range(0, 5460, {node(bulk("10.0.0.1"), 7000, "a"), node(bulk("10.0.0.4"), 7003, "d")}),
      range(5461, 10922, {node(bulk("10.0.0.2"), 7001, "b"), node(bulk("10.0.0.5"), 7004, "e")}),
      range(10923, 16383, {node(bulk("10.0.0.3"), 7002, "c")}),
  }));
  std::string error;
  auto map = SlotMap::parse(*reply, "seed", error);
  ASSERT_TRUE(map) << error;
  EXPECT_EQ(error, "");
  EXPECT_EQ(map->covered(), SlotMap::kSlots);
  EXPECT_EQ(where(*map, 0), "10.0.0.1:7000");
  EXPECT_EQ(where(*map, 5460), "10.0.0.1:7000");
  EXPECT_EQ(where(*map, 5461), "10.0.0.2:7001");
  EXPECT_EQ(where(*map, 16383), "10.0.0.3:7002");
  EXPECT_EQ(map->master_of(0)->id, "a");
  ASSERT_EQ(map->masters().size(), 3u);
  ASSERT_EQ(map->shards()[0].replicas.size(), 1u);
  EXPECT_EQ(map->shards()[0].replicas[0].port, 7003);
  EXPECT_TRUE(map->shards()[2].replicas.empty());
}

TEST(SlotMap, AMasterWithSeveralRangesIsOneShard) {
  auto reply = read(slots({
      range(0, 99, {node(bulk("h1"), 1, "a")}),
      range(100, 199, {node(bulk("h2"), 2, "b")}),
      range(200, 16383, {node(bulk("h1"), 1, "a")}),
  }));
  std::string error;
  auto map = SlotMap::parse(*reply, "seed", error);
  ASSERT_TRUE(map);
  EXPECT_EQ(map->shards().size(), 2u);
  EXPECT_EQ(map->masters().size(), 2u);
  EXPECT_EQ(map->covered(), SlotMap::kSlots);
}

TEST(SlotMap, NullAndEmptyEndpointsMeanTheNodeAsked) {
  auto reply = read(slots({
      range(0, 8191, {node("$-1\r\n", 7000, "a")}),
      range(8192, 16383, {node(bulk(""), 7001, "b")}),
  }));
  std::string error;
  auto map = SlotMap::parse(*reply, "redis-0.example", error);
  ASSERT_TRUE(map);
  EXPECT_EQ(where(*map, 0), "redis-0.example:7000");
  EXPECT_EQ(where(*map, 9000), "redis-0.example:7001");
}

TEST(SlotMap, AMasterWithoutAUsableEndpointLeavesItsSlotsUncovered) {
  auto reply = read(slots({
      range(0, 8191, {node(bulk("?"), 7000, "a")}),
      range(8192, 16383, {node(bulk("h"), 7001, "b")}),
  }));
  std::string error;
  auto map = SlotMap::parse(*reply, "seed", error);
  ASSERT_TRUE(map);
  EXPECT_NE(error.find("slots 0-8191"), std::string::npos) << error;
  EXPECT_EQ(map->covered(), 8192u);
  EXPECT_EQ(where(*map, 100), "none");
  EXPECT_EQ(map->masters().size(), 1u);
}

TEST(SlotMap, RefusesWhatIsNotASlotList) {
  std::string error;
  EXPECT_FALSE(SlotMap::parse(*read("-ERR This instance has cluster support disabled\r\n"), "s", error));
  EXPECT_EQ(error, "ERR This instance has cluster support disabled");
  EXPECT_FALSE(SlotMap::parse(*read(slots({range(5, 4, {node(bulk("h"), 1, "a")})})), "s", error));
  EXPECT_FALSE(SlotMap::parse(*read(slots({range(0, 16384, {node(bulk("h"), 1, "a")})})), "s", error));
  EXPECT_FALSE(SlotMap::parse(*read(slots({range(0, 1, {node(bulk("h"), 0, "a")})})), "s", error));
  EXPECT_FALSE(SlotMap::parse(*read("*1\r\n*2\r\n:0\r\n:1\r\n"), "s", error));
  EXPECT_FALSE(SlotMap::parse(*read("+OK\r\n"), "s", error));
  auto empty = SlotMap::parse(*read("*0\r\n"), "s", error);
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->covered(), 0u);
}

TEST(SlotMap, AMovedSlotGoesToItsNewMaster) {
  auto reply = read(slots({range(0, 16383, {node(bulk("h1"), 1, "a")})}));
  std::string error;
  auto map = SlotMap::parse(*reply, "seed", error);
  ASSERT_TRUE(map);
  map->moved(42, SlotMap::Node{"h2", 2, ""});
  EXPECT_EQ(where(*map, 42), "h2:2");
  EXPECT_EQ(where(*map, 41), "h1:1");
  map->moved(43, SlotMap::Node{"h2", 2, ""});
  EXPECT_EQ(map->masters().size(), 2u);
  EXPECT_EQ(map->shards().size(), 2u);
  SlotMap none;
  EXPECT_EQ(none.covered(), 0u);
  EXPECT_EQ(none.master_of(0), nullptr);
}

TEST(ClusterRedirect, ReadsMovedAndAsk) {
  auto moved = ClusterRedirect::parse("MOVED 3999 127.0.0.1:6381", "seed");
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->kind, ClusterRedirect::Kind::moved);
  EXPECT_EQ(moved->slot, 3999);
  EXPECT_EQ(moved->to.host, "127.0.0.1");
  EXPECT_EQ(moved->to.port, 6381);
  auto ask = ClusterRedirect::parse("ASK 0 redis-2.example:7000", "seed");
  ASSERT_TRUE(ask);
  EXPECT_EQ(ask->kind, ClusterRedirect::Kind::ask);
  EXPECT_EQ(ask->to.host, "redis-2.example");
  auto v6 = ClusterRedirect::parse("MOVED 1 ::1:7000", "seed");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->to.host, "::1");
  auto same = ClusterRedirect::parse("MOVED 16383 :7000", "asked");
  ASSERT_TRUE(same);
  EXPECT_EQ(same->to.host, "asked");
}

TEST(ClusterRedirect, IgnoresOtherErrorsAndUnusableEndpoints) {
  for (const char* error : {"ERR unknown command", "MOVED", "MOVED 16384 h:1", "MOVED x h:1", "MOVED 1 h", "MOVED 1 h:0",
                            "MOVED 1 h:99999", "ASK 1 ?:7000", "TRYAGAIN Multiple keys request during rehashing of slot",
                            "CLUSTERDOWN The cluster is down"})
    EXPECT_FALSE(ClusterRedirect::parse(error, "seed")) << error;
}
