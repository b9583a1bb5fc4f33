#include <gtest/gtest.h>

#include <vector>

#include "fanout/RoomRegistry.h"
#include "switchboard/cluster/InProcessBroker.h"

using namespace switchboard;
using server::RoomRegistry;

namespace {

auth::Identity identity_for(cluster::ConnectionId id) {
  auth::Identity identity;
  identity.user = "user" + std::to_string(id);
  return identity;
}

// A connection that records what it is given instead of writing to a socket.
class RecordingConnection final : public server::Connection {
 public:
  explicit RecordingConnection(cluster::ConnectionId id)
      : Connection(id, identity_for(id), server::TokenBucket(0, 1),
                   server::TokenBucket(0, 1)) {}
  using Connection::deliver;
  void deliver(protocol::Payload frame, Clock::time_point) override { frames.push_back(*frame); }
  void reply(std::string text) override { frames.push_back(std::move(text)); }
  void shutdown(std::uint16_t, std::string) override {}
  void abort() override {}
  void watch_token_expiry() override {}
  void post(std::function<void()> fn) override { fn(); }
  std::vector<std::string> frames;
};

// Counts what the registry asks of the broker, and forwards to the real in-process broker.
class CountingBroker final : public cluster::Broker {
 public:
  void set_deliver_handler(DeliverHandler h) override { inner.set_deliver_handler(std::move(h)); }
  using Broker::publish;
  void publish(const std::string& room, protocol::Payload push, PublishHandler done, const std::string& idem) override {
    inner.publish(room, std::move(push), std::move(done), idem);
  }
  void history(const std::string& room, std::optional<std::uint64_t> after, std::size_t limit,
               HistoryHandler done) override {
    inner.history(room, after, limit, std::move(done));
  }
  void subscribe(const std::string& room) override { events.push_back("+" + room); }
  void unsubscribe(const std::string& room) override { events.push_back("-" + room); }
  cluster::InProcessBroker inner;
  std::vector<std::string> events;
};

struct RoomRegistryTest : ::testing::Test {
  CountingBroker broker;
  RoomRegistry registry{broker, 64};
  std::shared_ptr<RecordingConnection> conn(cluster::ConnectionId id) {
    return std::make_shared<RecordingConnection>(id);
  }
  // Adds and releases at once, as a subscribe answered with nothing to recover.
  RoomRegistry::AddResult add(const std::shared_ptr<RecordingConnection>& c, const std::string& room, bool presence,
                              std::size_t max_rooms) {
    auto result = registry.add(c, room, presence, max_rooms);
    if (result == RoomRegistry::AddResult::added) registry.release(c, room, {0, "e"}, {});
    return result;
  }
  std::size_t deliver(const std::string& room, const std::string& text, std::uint64_t offset = 1) {
    return registry.deliver(room, protocol::make_payload(text), offset, "e");
  }
};

cluster::Broker::Entry entry(std::uint64_t offset, const std::string& text) {
  return {offset, protocol::make_payload(text)};
}

}  // namespace

TEST_F(RoomRegistryTest, FirstSubscriberSubscribesTheBrokerAndLastUnsubscribes) {
  auto a = conn(1), b = conn(2);
  EXPECT_EQ(add(a, "r", false, 10), RoomRegistry::AddResult::added);
  EXPECT_EQ(add(b, "r", false, 10), RoomRegistry::AddResult::added);
  EXPECT_EQ(broker.events, std::vector<std::string>{"+r"});
  EXPECT_TRUE(registry.remove(1, "r"));
  EXPECT_EQ(broker.events, std::vector<std::string>{"+r"});
  EXPECT_TRUE(registry.remove(2, "r"));
  EXPECT_EQ(broker.events, (std::vector<std::string>{"+r", "-r"}));
  EXPECT_EQ(registry.room_count(), 0u);
  EXPECT_EQ(registry.subscription_count(), 0u);
}

TEST_F(RoomRegistryTest, DeliversOneSharedFrameToEverySubscriberOnly) {
  auto a = conn(1), b = conn(2), c = conn(3);
  add(a, "r", false, 10);
  add(b, "r", true, 10);
  add(c, "other", false, 10);
  EXPECT_EQ(deliver("r", "hello"), 2u);
  EXPECT_EQ(a->frames, std::vector<std::string>{"hello"});
  EXPECT_EQ(b->frames, std::vector<std::string>{"hello"});
  EXPECT_TRUE(c->frames.empty());
  EXPECT_EQ(deliver("nobody", "hello"), 0u);
}

TEST_F(RoomRegistryTest, PresenceEventsGoOnlyToWatchers) {
  auto a = conn(1), b = conn(2);
  add(a, "r", false, 10);
  add(b, "r", true, 10);
  EXPECT_EQ(registry.deliver_presence("r", protocol::make_payload("join")), 1u);
  EXPECT_TRUE(a->frames.empty());
  EXPECT_EQ(b->frames.size(), 1u);
  // Subscribing again updates the flag.
  EXPECT_EQ(add(a, "r", true, 10), RoomRegistry::AddResult::updated);
  EXPECT_EQ(registry.deliver_presence("r", protocol::make_payload("leave")), 2u);
}

TEST_F(RoomRegistryTest, RoomLimitPerConnection) {
  auto a = conn(1);
  EXPECT_EQ(add(a, "r1", false, 2), RoomRegistry::AddResult::added);
  EXPECT_EQ(add(a, "r2", false, 2), RoomRegistry::AddResult::added);
  EXPECT_EQ(add(a, "r3", false, 2), RoomRegistry::AddResult::too_many_rooms);
  EXPECT_EQ(add(a, "r1", false, 2), RoomRegistry::AddResult::updated);
  EXPECT_EQ(registry.room_count(), 2u);
}

TEST_F(RoomRegistryTest, RemoveUnknownIsFalse) {
  auto a = conn(1);
  EXPECT_FALSE(registry.remove(1, "r"));
  add(a, "r", false, 10);
  EXPECT_FALSE(registry.remove(1, "other"));
  EXPECT_FALSE(registry.remove(2, "r"));
}

TEST_F(RoomRegistryTest, RemoveAllLeavesEveryRoomAndKeepsOthersIndexed) {
  std::vector<std::shared_ptr<RecordingConnection>> conns;
  for (cluster::ConnectionId id = 1; id <= 5; ++id) {
    conns.push_back(conn(id));
    add(conns.back(), "r", false, 10);
    add(conns.back(), "s" + std::to_string(id % 2), false, 10);
  }
  auto rooms = registry.remove_all(2);
  std::sort(rooms.begin(), rooms.end());
  EXPECT_EQ(rooms, (std::vector<std::string>{"r", "s0"}));
  EXPECT_EQ(registry.subscription_count(), 8u);
  // Swapped-in subscribers are still found by their index.
  EXPECT_TRUE(registry.remove(5, "r"));
  EXPECT_TRUE(registry.remove(1, "r"));
  EXPECT_EQ(deliver("r", "x"), 2u);
  EXPECT_EQ(conns[2]->frames.size(), 1u);
  EXPECT_EQ(conns[3]->frames.size(), 1u);
  EXPECT_TRUE(registry.remove_all(99).empty());
}

TEST_F(RoomRegistryTest, NewSubscriptionHoldsMessagesUntilReleased) {
  auto a = conn(1), b = conn(2);
  registry.add(b, "r", false, 10);
  registry.release(b, "r", {2, "e"}, {});
  EXPECT_EQ(registry.add(a, "r", false, 10), RoomRegistry::AddResult::added);
  deliver("r", "m3", 3);
  deliver("r", "m4", 4);
  EXPECT_TRUE(a->frames.empty());
  EXPECT_EQ(b->frames, (std::vector<std::string>{"m3", "m4"}));
  // Recovered 2 and 3 from history after position 1; the held 3 is not sent twice.
  EXPECT_EQ(registry.release(a, "r", {1, "e"}, {entry(1, "m1"), entry(2, "m2"), entry(3, "m3")}),
            RoomRegistry::ReleaseResult::released);
  EXPECT_EQ(a->frames, (std::vector<std::string>{"m2", "m3", "m4"}));
  // A message the node still receives after reading it from history is not sent again …
  deliver("r", "m4", 4);
  EXPECT_EQ(a->frames.size(), 3u);
  // … and the next one goes straight through, as do later ones.
  deliver("r", "m5", 5);
  deliver("r", "m6", 6);
  EXPECT_EQ(a->frames, (std::vector<std::string>{"m2", "m3", "m4", "m5", "m6"}));
  EXPECT_EQ(registry.release(a, "r", {1, "e"}, {}), RoomRegistry::ReleaseResult::released);
  EXPECT_EQ(a->frames.size(), 5u);
}

TEST_F(RoomRegistryTest, WithoutRecoveryOnlyMessagesAfterThePositionFollowTheReply) {
  auto a = conn(1);
  registry.add(a, "r", false, 10);
  deliver("r", "m7", 7);
  deliver("r", "m8", 8);
  registry.release(a, "r", {7, "e"}, {});
  EXPECT_EQ(a->frames, (std::vector<std::string>{"m8"}));
}

TEST_F(RoomRegistryTest, AnotherEpochPassesTheFloorAnnounced) {
  auto a = conn(1);
  registry.add(a, "r", false, 10);
  registry.release(a, "r", {9, "e"}, {});
  // The room's history was lost and numbering started again: nothing is taken for a repeat, and
  // the subscriber learns of the new epoch before its first message.
  registry.deliver("r", protocol::make_payload("new1"), 1, "f");
  EXPECT_EQ(a->frames, (std::vector<std::string>{
                           R"({"type":"subscribed","room":"r","offset":0,"epoch":"f","recovered":false})", "new1"}));
}

// Whatever way a subscriber came to stand where it does (held then released, or delivered to
// directly), a message that does not follow its position is announced, once, before it.
TEST_F(RoomRegistryTest, AnEpochChangeOrAGapIsAnnouncedBeforeTheMessage) {
  auto a = conn(1), b = conn(2);
  add(a, "r", false, 10);
  add(b, "r", false, 10);
  deliver("r", "m1", 1);
  deliver("r", "m2", 2);
  registry.deliver("r", protocol::make_payload("n1"), 1, "f");  // Redis restarted empty
  registry.deliver("r", protocol::make_payload("n2"), 2, "f");
  registry.deliver("r", protocol::make_payload("n5"), 5, "f");  // 3 and 4 lost on the way
  registry.deliver("r", protocol::make_payload("n5"), 5, "f");  // never twice
  std::vector<std::string> expected{"m1", "m2",
                                    R"({"type":"subscribed","room":"r","offset":0,"epoch":"f","recovered":false})",
                                    "n1", "n2",
                                    R"({"type":"subscribed","room":"r","offset":4,"epoch":"f","recovered":false})",
                                    "n5"};
  EXPECT_EQ(a->frames, expected);
  EXPECT_EQ(b->frames, expected);
  // A new position without a message (the broker could not read back what it missed): announced
  // when it is ahead, nothing otherwise.
  EXPECT_EQ(registry.deliver("r", nullptr, 5, "f"), 0u);
  EXPECT_EQ(registry.deliver("r", nullptr, 7, "f"), 0u);
  expected.push_back(R"({"type":"subscribed","room":"r","offset":7,"epoch":"f","recovered":false})");
  EXPECT_EQ(a->frames, expected);
  deliver("r", "g1", 1);
  EXPECT_EQ(a->frames.back(), "g1");
  EXPECT_EQ(a->frames[a->frames.size() - 2], R"({"type":"subscribed","room":"r","offset":0,"epoch":"e","recovered":false})");
}

// Messages of a new epoch held while the subscribe was answered from the old one's history.
TEST_F(RoomRegistryTest, AnEpochChangeWhileHeldIsAnnouncedOnRelease) {
  auto a = conn(1);
  registry.add(a, "r", false, 10);
  deliver("r", "m4", 4);
  registry.deliver("r", nullptr, 2, "f");
  registry.deliver("r", protocol::make_payload("n3"), 3, "f");
  registry.release(a, "r", {3, "e"}, {});
  EXPECT_EQ(a->frames, (std::vector<std::string>{
                           "m4", R"({"type":"subscribed","room":"r","offset":2,"epoch":"f","recovered":false})", "n3"}));
  registry.deliver("r", protocol::make_payload("n4"), 4, "f");
  EXPECT_EQ(a->frames.back(), "n4");
  EXPECT_EQ(a->frames.size(), 4u);
}

TEST_F(RoomRegistryTest, HeldMessagesBeyondTheLimitOverflow) {
  auto a = conn(1);
  registry.add(a, "r", false, 10);
  for (std::uint64_t i = 1; i <= 10; ++i) deliver("r", std::string(10, 'x'), i);  // 100 bytes > 64
  EXPECT_EQ(registry.release(a, "r", {0, "e"}, {}), RoomRegistry::ReleaseResult::overflowed);
  EXPECT_TRUE(a->frames.empty());
  // Still subscribed (the broker closes the connection), and delivered to directly.
  deliver("r", "m11", 11);
  EXPECT_EQ(a->frames, (std::vector<std::string>{"m11"}));
}

TEST_F(RoomRegistryTest, ReleaseOfAnUnknownSubscriptionIsGone) {
  auto a = conn(1);
  EXPECT_EQ(registry.release(a, "r", {0, "e"}, {}), RoomRegistry::ReleaseResult::gone);
}

TEST(TokenBucket, BurstThenRate) {
  using Clock = server::TokenBucket::Clock;
  auto t0 = Clock::now();
  server::TokenBucket bucket(10, 3, t0);
  EXPECT_TRUE(bucket.try_take(t0));
  EXPECT_TRUE(bucket.try_take(t0));
  EXPECT_TRUE(bucket.try_take(t0));
  EXPECT_FALSE(bucket.try_take(t0));
  EXPECT_TRUE(bucket.try_take(t0 + std::chrono::milliseconds(100)));  // one token refilled
  EXPECT_FALSE(bucket.try_take(t0 + std::chrono::milliseconds(100)));
  server::TokenBucket unlimited(0, 1, t0);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(unlimited.try_take(t0));
}

TEST_F(RoomRegistryTest, LargestRoomsAreTheMostSubscribedFirstTiesByName) {
  EXPECT_TRUE(registry.largest_rooms(20).empty());
  std::vector<std::shared_ptr<RecordingConnection>> conns;
  for (cluster::ConnectionId id = 1; id <= 4; ++id) conns.push_back(conn(id));
  // b: 4 subscribers; a and c: 2; d: 1.
  for (const auto& c : conns) add(c, "b", false, 10);
  add(conns[0], "c", false, 10);
  add(conns[1], "c", false, 10);
  add(conns[2], "a", false, 10);
  add(conns[3], "a", false, 10);
  add(conns[0], "d", false, 10);
  auto names = [](const std::vector<RoomRegistry::RoomSize>& rooms) {
    std::vector<std::string> out;
    for (const auto& r : rooms) out.push_back(r.room + "=" + std::to_string(r.subscribers));
    return out;
  };
  EXPECT_EQ(names(registry.largest_rooms(20)), (std::vector<std::string>{"b=4", "a=2", "c=2", "d=1"}));
  EXPECT_EQ(names(registry.largest_rooms(2)), (std::vector<std::string>{"b=4", "a=2"}));
  EXPECT_TRUE(registry.largest_rooms(0).empty());
  registry.remove_all(conns[0]->id());
  EXPECT_EQ(names(registry.largest_rooms(20)), (std::vector<std::string>{"b=3", "a=2", "c=1"}));
}
