// Key and channel names (RedisKeys) and hash slots (HashSlot): the classic layout names every key
// as every earlier version did, the tagged one puts every key of a room in the room's slot, and
// HashSlot agrees with a real Redis Cluster node (CLUSTER KEYSLOT). No other file of the Redis
// side builds a name.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "RedisClusterProcess.h"
#include "redis/HashSlot.h"
#include "redis/RedisKeys.h"

using namespace switchboard::cluster;
using switchboard::test::RedisClusterProcess;

TEST(HashSlot, KnownVectorsAndHashTags) {
  EXPECT_EQ(HashSlot::crc16("123456789"), 0x31C3);
  EXPECT_EQ(HashSlot::of("foo"), 12182);
  EXPECT_EQ(HashSlot::of(""), 0);
  EXPECT_EQ(HashSlot::of("switchboard:{lobby}:offset"), HashSlot::of("lobby"));
  EXPECT_EQ(HashSlot::hashed_part("a{b}c{d}"), "b");       // the first tag
  EXPECT_EQ(HashSlot::hashed_part("a{}b{c}"), "a{}b{c}");  // an empty first tag: the whole key
  EXPECT_EQ(HashSlot::hashed_part("a}b{c"), "a}b{c");      // no '}' after the '{'
  EXPECT_EQ(HashSlot::hashed_part("{{a}}"), "{a");
  EXPECT_EQ(HashSlot::hashed_part("x{y"), "x{y");
}

TEST(RedisKeys, TheClassicLayoutNamesEveryKeyAsEarlierVersions) {
  RedisKeys k("switchboard:", RedisKeys::Layout::classic);
  EXPECT_EQ(k.channel("chat:lobby"), "switchboard:room:chat:lobby");
  EXPECT_EQ(k.history("chat:lobby"), "switchboard:history:chat:lobby");
  EXPECT_EQ(k.stream("chat:lobby"), "switchboard:stream:chat:lobby");
  EXPECT_EQ(k.presence_conns("lobby"), "switchboard:presence:lobby:conns");
  EXPECT_EQ(k.presence_users("lobby"), "switchboard:presence:lobby:users");
  EXPECT_EQ(k.presence_info("lobby"), "switchboard:presence:lobby:info");
  EXPECT_EQ(k.node_conns("n1"), "switchboard:node:n1:conns");
  EXPECT_EQ(k.node_alive("n1"), "switchboard:node:n1:alive");
  EXPECT_EQ(k.nodes(), "switchboard:nodes");
  EXPECT_EQ(k.nodes_last_beat(), "switchboard:nodes:last-beat");
  EXPECT_EQ(k.nodes_grace(), "switchboard:nodes:grace");
  EXPECT_EQ(k.room_of_channel("switchboard:room:chat:lobby"), "chat:lobby");
  EXPECT_EQ(k.room_of_channel("other:room:lobby"), std::nullopt);
  // A prefix with braces stays allowed on one Redis, as before.
  RedisKeys braces("{app}", RedisKeys::Layout::classic);
  EXPECT_EQ(braces.channel("r"), "{app}room:r");
  EXPECT_EQ(braces.room_of_channel("{app}room:r"), "r");
}

TEST(RedisKeys, TheTaggedLayoutPutsEveryKeyOfARoomInTheRoomsSlot) {
  RedisKeys k("switchboard:", RedisKeys::Layout::tagged);
  EXPECT_EQ(k.channel("lobby"), "switchboard:room:{lobby}");
  EXPECT_EQ(k.history("lobby"), "switchboard:history:{lobby}");
  EXPECT_EQ(k.stream("lobby"), "switchboard:stream:{lobby}");
  EXPECT_EQ(k.presence_conns("lobby"), "switchboard:presence:{lobby}:conns");
  EXPECT_EQ(k.presence_users("lobby"), "switchboard:presence:{lobby}:users");
  EXPECT_EQ(k.presence_info("lobby"), "switchboard:presence:{lobby}:info");
  EXPECT_EQ(k.node_conns("n1"), "switchboard:node:{n1}:conns");
  EXPECT_EQ(k.node_alive("n1"), "switchboard:{nodes}:alive:n1");
  EXPECT_EQ(k.nodes(), "switchboard:{nodes}");
  EXPECT_EQ(k.nodes_last_beat(), "switchboard:{nodes}:last-beat");
  EXPECT_EQ(k.nodes_grace(), "switchboard:{nodes}:grace");
  EXPECT_EQ(k.room_of_channel("switchboard:room:{chat:lobby}"), "chat:lobby");
  EXPECT_EQ(k.room_of_channel("switchboard:room:chat:lobby"), std::nullopt);

  for (const std::string& room :
       std::vector<std::string>{"lobby", "chat:lobby", "a", "x/y@z.w-1_2", std::string(200, 'r')}) {
    int slot = k.slot_of_room(room);
    EXPECT_EQ(slot, HashSlot::of(room)) << room;
    for (const auto& key : {k.channel(room), k.history(room), k.stream(room), k.presence_conns(room),
                            k.presence_users(room), k.presence_info(room)})
      EXPECT_EQ(HashSlot::of(key), slot) << key;
  }
  int nodes = HashSlot::of(k.nodes());
  for (const auto& key : {k.nodes_last_beat(), k.nodes_grace(), k.node_alive("n1"), k.node_alive("n2")})
    EXPECT_EQ(HashSlot::of(key), nodes) << key;
  EXPECT_EQ(HashSlot::of(k.node_conns("n1")), HashSlot::of("n1"));
}

TEST(RedisKeys, ATaggedPrefixWithABraceIsRefused) {
  for (const char* prefix : {"{app}:", "app{", "app}:"})
    EXPECT_THROW(RedisKeys(prefix, RedisKeys::Layout::tagged), std::invalid_argument) << prefix;
  EXPECT_NO_THROW(RedisKeys("app:", RedisKeys::Layout::tagged));
  EXPECT_NO_THROW(RedisKeys("", RedisKeys::Layout::tagged));
}

// A few hundred names, the node's own among them, against what a Redis Cluster node computes.
TEST(HashSlot, AgreesWithCLUSTERKEYSLOT) {
  RedisClusterProcess cluster({.masters = 1});
  RedisKeys classic("switchboard:", RedisKeys::Layout::classic), tagged("sb:", RedisKeys::Layout::tagged);
  std::vector<std::string> names{"",     "a",     "{",         "}",   "{}",       "{}a",
                                 "a{}",  "{a",    "a}",        "{a}", "x{a}y{b}", "{{a}}",
                                 "}{a}", "a{b}}", "123456789", "é",   "\x01\xff"};
  for (int i = 0; i < 60; ++i) {
    std::string room = "room" + std::to_string(i * 7919) + (i % 3 ? ":chat" : "/x@y.z");
    for (const auto& key :
         {classic.channel(room), classic.history(room), tagged.stream(room), tagged.presence_info(room)})
      names.push_back(key);
  }
  for (int i = 0; i < 60; ++i)
    names.push_back(std::string(static_cast<std::size_t>(i), static_cast<char>('!' + i)));
  ASSERT_GE(names.size(), 300u);
  // All in one redis-cli run: one KEYSLOT per line of its input (-x would append it as an argument).
  std::string input;
  for (const auto& n : names) {
    std::string quoted = "\"";
    for (unsigned char c : n) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      quoted += hex;
    }
    input += "CLUSTER KEYSLOT " + quoted + "\"\n";
  }
  auto file = std::filesystem::temp_directory_path() / ("switchboard-keyslot-" + std::to_string(::getpid()));
  std::ofstream(file) << input;
  std::string out = cluster.cli(0, "< " + file.string());
  std::filesystem::remove(file);
  std::istringstream lines(out);
  for (const auto& n : names) {
    std::string line;
    ASSERT_TRUE(std::getline(lines, line)) << "no answer for " << n << ": " << out.substr(0, 500);
    EXPECT_EQ(line, std::to_string(HashSlot::of(n))) << "for the name " << n;
  }
}

// Outside RedisKeys, the Redis side's sources hold no key or channel name: no string literal
// that starts a name ("room:", "history:", "nodes", …).
TEST(RedisKeys, NoOtherFileOfTheRedisSideBuildsAName) {
  const std::regex literal(
      R"re("(room:|history:|stream:|presence:|node:|nodes|:alive|:conns|:users|:info|:last-beat|:grace))re");
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(SWITCHBOARD_SOURCE_DIR "/cluster/src/redis")) {
    std::string name = entry.path().filename().string();
    if (name.starts_with("RedisKeys.")) continue;
    std::ifstream in(entry.path());
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      auto code = line.substr(0, line.find("//"));
      EXPECT_FALSE(std::regex_search(code, literal)) << name << ":" << n << ": " << line;
    }
    ++files;
  }
  EXPECT_GE(files, 10);
}
