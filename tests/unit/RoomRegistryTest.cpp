#include <gtest/gtest.h>

#include <vector>

#include "switchboard/cluster/InProcessBus.h"
#include "switchboard/server/RoomRegistry.h"

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
  void deliver(protocol::Payload frame) override { frames.push_back(*frame); }
  void reply(std::string text) override { frames.push_back(std::move(text)); }
  void shutdown(std::uint16_t, std::string) override {}
  void abort() override {}
  void watch_token_expiry() override {}
  void post(std::function<void()> fn) override { fn(); }
  std::vector<std::string> frames;
};

// Counts what the registry asks of the bus, and forwards to the real in-process bus.
class CountingBus final : public cluster::Bus {
 public:
  void set_deliver_handler(DeliverHandler h) override { inner.set_deliver_handler(std::move(h)); }
  void publish(const std::string& room, protocol::Payload push, PublishHandler done) override {
    inner.publish(room, std::move(push), std::move(done));
  }
  void subscribe(const std::string& room) override { events.push_back("+" + room); }
  void unsubscribe(const std::string& room) override { events.push_back("-" + room); }
  cluster::InProcessBus inner;
  std::vector<std::string> events;
};

struct RoomRegistryTest : ::testing::Test {
  CountingBus bus;
  RoomRegistry registry{bus};
  std::shared_ptr<RecordingConnection> conn(cluster::ConnectionId id) {
    return std::make_shared<RecordingConnection>(id);
  }
};

}  // namespace

TEST_F(RoomRegistryTest, FirstSubscriberSubscribesTheBusAndLastUnsubscribes) {
  auto a = conn(1), b = conn(2);
  EXPECT_EQ(registry.add(a, "r", false, 10), RoomRegistry::AddResult::added);
  EXPECT_EQ(registry.add(b, "r", false, 10), RoomRegistry::AddResult::added);
  EXPECT_EQ(bus.events, std::vector<std::string>{"+r"});
  EXPECT_TRUE(registry.remove(1, "r"));
  EXPECT_EQ(bus.events, std::vector<std::string>{"+r"});
  EXPECT_TRUE(registry.remove(2, "r"));
  EXPECT_EQ(bus.events, (std::vector<std::string>{"+r", "-r"}));
  EXPECT_EQ(registry.room_count(), 0u);
  EXPECT_EQ(registry.subscription_count(), 0u);
}

TEST_F(RoomRegistryTest, DeliversOneSharedFrameToEverySubscriberOnly) {
  auto a = conn(1), b = conn(2), c = conn(3);
  registry.add(a, "r", false, 10);
  registry.add(b, "r", true, 10);
  registry.add(c, "other", false, 10);
  auto frame = protocol::make_payload("hello");
  EXPECT_EQ(registry.deliver("r", frame), 2u);
  EXPECT_EQ(a->frames, std::vector<std::string>{"hello"});
  EXPECT_EQ(b->frames, std::vector<std::string>{"hello"});
  EXPECT_TRUE(c->frames.empty());
  EXPECT_EQ(registry.deliver("nobody", frame), 0u);
}

TEST_F(RoomRegistryTest, PresenceEventsGoOnlyToWatchers) {
  auto a = conn(1), b = conn(2);
  registry.add(a, "r", false, 10);
  registry.add(b, "r", true, 10);
  EXPECT_EQ(registry.deliver_presence("r", protocol::make_payload("join")), 1u);
  EXPECT_TRUE(a->frames.empty());
  EXPECT_EQ(b->frames.size(), 1u);
  // Subscribing again updates the flag.
  EXPECT_EQ(registry.add(a, "r", true, 10), RoomRegistry::AddResult::updated);
  EXPECT_EQ(registry.deliver_presence("r", protocol::make_payload("leave")), 2u);
}

TEST_F(RoomRegistryTest, RoomLimitPerConnection) {
  auto a = conn(1);
  EXPECT_EQ(registry.add(a, "r1", false, 2), RoomRegistry::AddResult::added);
  EXPECT_EQ(registry.add(a, "r2", false, 2), RoomRegistry::AddResult::added);
  EXPECT_EQ(registry.add(a, "r3", false, 2), RoomRegistry::AddResult::too_many_rooms);
  EXPECT_EQ(registry.add(a, "r1", false, 2), RoomRegistry::AddResult::updated);
  EXPECT_EQ(registry.room_count(), 2u);
}

TEST_F(RoomRegistryTest, RemoveUnknownIsFalse) {
  auto a = conn(1);
  EXPECT_FALSE(registry.remove(1, "r"));
  registry.add(a, "r", false, 10);
  EXPECT_FALSE(registry.remove(1, "other"));
  EXPECT_FALSE(registry.remove(2, "r"));
}

TEST_F(RoomRegistryTest, RemoveAllLeavesEveryRoomAndKeepsOthersIndexed) {
  std::vector<std::shared_ptr<RecordingConnection>> conns;
  for (cluster::ConnectionId id = 1; id <= 5; ++id) {
    conns.push_back(conn(id));
    registry.add(conns.back(), "r", false, 10);
    registry.add(conns.back(), "s" + std::to_string(id % 2), false, 10);
  }
  auto rooms = registry.remove_all(2);
  std::sort(rooms.begin(), rooms.end());
  EXPECT_EQ(rooms, (std::vector<std::string>{"r", "s0"}));
  EXPECT_EQ(registry.subscription_count(), 8u);
  // Swapped-in subscribers are still found by their index.
  EXPECT_TRUE(registry.remove(5, "r"));
  EXPECT_TRUE(registry.remove(1, "r"));
  EXPECT_EQ(registry.deliver("r", protocol::make_payload("x")), 2u);
  EXPECT_EQ(conns[2]->frames.size(), 1u);
  EXPECT_EQ(conns[3]->frames.size(), 1u);
  EXPECT_TRUE(registry.remove_all(99).empty());
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
