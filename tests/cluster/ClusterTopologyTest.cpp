// A node's view of a Redis Cluster's layout against a real cluster: read from a seed (a dead
// seed skipped), following a master's failover, refreshes coalesced however many are asked.
#include <gtest/gtest.h>

#include "LoopThread.h"
#include "RedisClusterProcess.h"
#include "redis/ClusterTopology.h"

using namespace switchboard::cluster;
using switchboard::test::RedisClusterProcess;

namespace {

// A topology on its own event loop thread; each map it reports is kept for the test.
class TopologyOnLoop {
 public:
  explicit TopologyOnLoop(ClusterTopology::Options options) : topology_(loop_.strand(), std::move(options), "test") {
    loop_.on_strand([this] { topology_.start([this](const SlotMap& map) { maps_.add(map); }); });
  }
  ~TopologyOnLoop() {
    loop_.on_strand([this] { topology_.stop(); });
    loop_.stop();
  }
  void on_strand(const std::function<void()>& f) { loop_.on_strand(f); }
  // The first reported map (since the last call) that `good` accepts; throws after 10 s.
  SlotMap await(const std::function<bool(const SlotMap&)>& good) { return maps_.next(good); }
  unsigned long refreshes() {
    unsigned long n = 0;
    loop_.on_strand([&] { n = topology_.refreshes(); });
    return n;
  }
  ClusterTopology& topology() { return topology_; }

 private:
  switchboard::test::LoopThread loop_;
  ClusterTopology topology_;
  switchboard::test::Reports<SlotMap> maps_;
};

ClusterTopology::Options seeds(const std::vector<std::string>& urls) {
  ClusterTopology::Options options;
  for (auto& url : urls) options.seeds.push_back(RedisAddress::parse(url));
  options.timing.connect_timeout = std::chrono::milliseconds(500);
  return options;
}

std::uint16_t port_of(const SlotMap& map, int slot) {
  const SlotMap::Node* master = map.master_of(static_cast<std::uint16_t>(slot));
  return master ? master->port : 0;
}

}  // namespace

TEST(ClusterTopology, LearnsEveryMasterFromOneSeedPastADeadOne) {
  RedisClusterProcess cluster({.masters = 3});
  // Port 1 on loopback: nothing listens there.
  TopologyOnLoop topology(seeds({"redis://127.0.0.1:1", cluster.url(2)}));
  SlotMap map = topology.await([](const SlotMap& m) { return m.covered() == SlotMap::kSlots; });
  EXPECT_EQ(map.masters().size(), 3u);
  for (int slot : {0, 5000, 9000, 16383}) EXPECT_EQ(port_of(map, slot), cluster.port(cluster.master_of(slot))) << slot;
}

TEST(ClusterTopology, FollowsAFailoverAndCoalescesRefreshes) {
  RedisClusterProcess cluster({.masters = 3, .replicas = 1});
  TopologyOnLoop topology(seeds({cluster.url(0)}));
  topology.await([](const SlotMap& m) { return m.covered() == SlotMap::kSlots; });

  // However many refreshes are asked for at once, a handful run.
  unsigned long before = topology.refreshes();
  topology.on_strand([&] {
    for (int i = 0; i < 1000; ++i) topology.topology().refresh("test");
  });
  topology.on_strand([] {});
  EXPECT_LE(topology.refreshes() - before, 2u);

  std::size_t killed = cluster.kill_master_of(0);
  std::uint16_t dead = cluster.port(killed);
  // As the link to the dead master would on losing its connection.
  topology.on_strand([&] { topology.topology().refresh("connection lost", true); });
  SlotMap after = topology.await([&](const SlotMap& m) { return port_of(m, 0) != dead && port_of(m, 0) != 0; });
  cluster.await_healthy();
  EXPECT_EQ(port_of(after, 0), cluster.port(cluster.master_of(0)));
  EXPECT_LE(topology.refreshes() - before, 20u);
}

TEST(ClusterTopology, TakesAMovedAtOnce) {
  RedisClusterProcess cluster({.masters = 1});
  TopologyOnLoop topology(seeds({cluster.url(0)}));
  topology.await([](const SlotMap& m) { return m.covered() == SlotMap::kSlots; });
  topology.on_strand([&] {
    topology.topology().moved(*ClusterRedirect::parse("MOVED 7 127.0.0.1:1", "127.0.0.1"));
  });
  // At once, then corrected by the refresh the MOVED asked for.
  topology.await([](const SlotMap& m) { return port_of(m, 7) == 1; });
  topology.await([&](const SlotMap& m) { return port_of(m, 7) == cluster.port(0); });
}
