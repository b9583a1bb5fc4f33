// Unit tests of the in-memory presence store: per-user join/leave events and room listings.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "switchboard/cluster/InProcessPresenceStore.h"

namespace sc = switchboard::cluster;
namespace sp = switchboard::protocol;
using nlohmann::json;

namespace {

struct Event {
  std::string room;  // the room the handler was called with
  json body;         // the parsed event frame
};

class InProcessPresenceStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store.set_event_handler([this](const std::string& room, const sp::Payload& event) {
      ASSERT_TRUE(event);
      events.push_back({room, json::parse(*event)});
    });
  }

  std::vector<sp::PresenceMember> list(const std::string& room) {
    std::optional<std::vector<sp::PresenceMember>> result;
    bool called = false;
    store.list(room, [&](std::optional<std::vector<sp::PresenceMember>> members) {
      called = true;
      result = std::move(members);
    });
    EXPECT_TRUE(called) << "the in-process store answers inline";
    EXPECT_TRUE(result.has_value()) << "the in-process store is always reachable";
    return result.value_or(std::vector<sp::PresenceMember>{});
  }

  sc::InProcessPresenceStore store;
  std::vector<Event> events;
};

json join_event(const std::string& room, const std::string& user, const json& info) {
  return {{"type", "join"}, {"room", room}, {"user", user}, {"info", info}};
}
json leave_event(const std::string& room, const std::string& user, const json& info) {
  return {{"type", "leave"}, {"room", room}, {"user", user}, {"info", info}};
}

}  // namespace

TEST_F(InProcessPresenceStoreTest, FirstConnectionOfUserEmitsJoin) {
  json info = {{"name", "Alice"}};
  store.join("chat:lobby", 1, "alice", info);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].room, "chat:lobby");
  EXPECT_EQ(events[0].body, join_event("chat:lobby", "alice", info));

  auto members = list("chat:lobby");
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].user, "alice");
  EXPECT_EQ(members[0].info, info);
  EXPECT_EQ(members[0].conns, 1);
}

TEST_F(InProcessPresenceStoreTest, SecondConnectionOfSameUserIsSilent) {
  store.join("r", 1, "alice", json::object());
  store.join("r", 2, "alice", json::object());
  EXPECT_EQ(events.size(), 1u);

  auto members = list("r");
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].user, "alice");
  EXPECT_EQ(members[0].conns, 2);
}

TEST_F(InProcessPresenceStoreTest, LeavingOneOfTwoConnectionsIsSilent) {
  store.join("r", 1, "alice", json::object());
  store.join("r", 2, "alice", json::object());
  events.clear();

  store.leave("r", 1);
  EXPECT_TRUE(events.empty());
  auto members = list("r");
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].conns, 1);
}

TEST_F(InProcessPresenceStoreTest, LeavingLastConnectionEmitsLeave) {
  json info = {{"name", "Alice"}};
  store.join("r", 1, "alice", info);
  store.join("r", 2, "alice", info);
  events.clear();

  store.leave("r", 2);
  store.leave("r", 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].room, "r");
  EXPECT_EQ(events[0].body, leave_event("r", "alice", info));
  EXPECT_TRUE(list("r").empty());
}

TEST_F(InProcessPresenceStoreTest, DuplicateJoinOfSameConnectionIsNoOp) {
  store.join("r", 1, "alice", json::object());
  store.join("r", 1, "alice", json::object());
  EXPECT_EQ(events.size(), 1u);
  auto members = list("r");
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].conns, 1);

  // One leave is enough to take it out again.
  store.leave("r", 1);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].body["type"], json("leave"));
  EXPECT_TRUE(list("r").empty());
}

TEST_F(InProcessPresenceStoreTest, DuplicateJoinUnderAnotherUserIsNoOp) {
  store.join("r", 1, "alice", json::object());
  store.join("r", 1, "bob", json::object());
  EXPECT_EQ(events.size(), 1u);
  auto members = list("r");
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].user, "alice");
}

TEST_F(InProcessPresenceStoreTest, LeaveOfUnknownConnectionOrRoomIsIgnored) {
  store.leave("nowhere", 1);  // unknown room
  EXPECT_TRUE(events.empty());

  store.join("r", 1, "alice", json::object());
  events.clear();
  store.leave("r", 99);      // unknown connection in a known room
  store.leave("other", 1);   // known connection, room it never joined
  EXPECT_TRUE(events.empty());
  auto members = list("r");
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].conns, 1);

  store.leave("r", 1);
  store.leave("r", 1);  // a second leave of the same connection
  EXPECT_EQ(events.size(), 1u);
}

TEST_F(InProcessPresenceStoreTest, ListIsSortedByUser) {
  store.join("r", 1, "carol", json::object());
  store.join("r", 2, "alice", json::object());
  store.join("r", 3, "bob", json::object());
  store.join("r", 4, "Zed", json::object());  // byte order: uppercase first
  store.join("r", 5, "alice", json::object());

  auto members = list("r");
  ASSERT_EQ(members.size(), 4u);
  EXPECT_EQ(members[0].user, "Zed");
  EXPECT_EQ(members[1].user, "alice");
  EXPECT_EQ(members[1].conns, 2);
  EXPECT_EQ(members[2].user, "bob");
  EXPECT_EQ(members[3].user, "carol");
}

TEST_F(InProcessPresenceStoreTest, ListOfUnknownRoomIsEmpty) {
  EXPECT_TRUE(list("nowhere").empty());
  store.join("r", 1, "alice", json::object());
  EXPECT_TRUE(list("nowhere").empty());
}

TEST_F(InProcessPresenceStoreTest, EmptiedRoomIsForgotten) {
  store.join("r", 1, "alice", json::object());
  store.join("r", 2, "bob", json::object());
  store.leave("r", 1);
  store.leave("r", 2);
  EXPECT_TRUE(list("r").empty());

  // Coming back is a fresh first join.
  events.clear();
  store.join("r", 3, "alice", json{{"v", 2}});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].body, join_event("r", "alice", json{{"v", 2}}));
  auto members = list("r");
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].info, json({{"v", 2}}));
  EXPECT_EQ(members[0].conns, 1);
}

TEST_F(InProcessPresenceStoreTest, RoomsAreSeparate) {
  store.join("a", 1, "alice", json::object());
  store.join("b", 1, "alice", json::object());  // the same connection in a second room
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].room, "a");
  EXPECT_EQ(events[0].body, join_event("a", "alice", json::object()));
  EXPECT_EQ(events[1].room, "b");
  EXPECT_EQ(events[1].body, join_event("b", "alice", json::object()));

  store.join("b", 2, "bob", json::object());
  EXPECT_EQ(list("a").size(), 1u);
  EXPECT_EQ(list("b").size(), 2u);

  events.clear();
  store.leave("a", 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].room, "a");
  EXPECT_EQ(events[0].body, leave_event("a", "alice", json::object()));
  EXPECT_TRUE(list("a").empty());
  EXPECT_EQ(list("b").size(), 2u);
}

TEST_F(InProcessPresenceStoreTest, EventsInOrderPerRoom) {
  store.join("r", 1, "alice", json::object());
  store.join("r", 2, "bob", json::object());
  store.leave("r", 1);
  store.join("r", 3, "alice", json::object());
  store.leave("r", 2);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].body, join_event("r", "alice", json::object()));
  EXPECT_EQ(events[1].body, join_event("r", "bob", json::object()));
  EXPECT_EQ(events[2].body, leave_event("r", "alice", json::object()));
  EXPECT_EQ(events[3].body, join_event("r", "alice", json::object()));
  EXPECT_EQ(events[4].body, leave_event("r", "bob", json::object()));
}

TEST_F(InProcessPresenceStoreTest, InfoComesFromFirstConnection) {
  json first = {{"device", "phone"}};
  json second = {{"device", "laptop"}};
  store.join("r", 1, "alice", first);
  store.join("r", 2, "alice", second);
  auto members = list("r");
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].info, first);

  // It stays the first connection's info even after that connection leaves,
  // and the leave event carries it too.
  store.leave("r", 1);
  members = list("r");
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].info, first);
  events.clear();
  store.leave("r", 2);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].body, leave_event("r", "alice", first));
}

TEST(InProcessPresenceStoreNoHandler, WorksWithoutEventHandler) {
  sc::InProcessPresenceStore store;
  store.join("r", 1, "alice", json::object());
  store.leave("r", 1);
  store.join("r", 2, "bob", json::object());
  bool called = false;
  store.list("r", [&](std::optional<std::vector<sp::PresenceMember>> members) {
    called = true;
    ASSERT_TRUE(members.has_value());
    ASSERT_EQ(members->size(), 1u);
    EXPECT_EQ((*members)[0].user, "bob");
  });
  EXPECT_TRUE(called);
}
