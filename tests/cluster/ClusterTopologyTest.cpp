// A node's view of a Redis Cluster's layout against a real cluster: read from a seed (a dead
// seed skipped), following a master's failover, refreshes coalesced however many are asked.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "RedisClusterProcess.h"
#include "redis/ClusterTopology.h"

using namespace switchboard::cluster;
using switchboard::test::RedisClusterProcess;

namespace {

// A topology on its own event loop thread; each map it reports is kept for the test.
class TopologyOnLoop {
 public:
  explicit TopologyOnLoop(ClusterTopology::Options options) : topology_(strand_, std::move(options), "test") {
    on_strand([this] {
      topology_.start([this](const SlotMap& map) {
        std::lock_guard lock(mutex_);
        maps_.push_back(map);
        changed_.notify_all();
      });
    });
  }
  ~TopologyOnLoop() {
    on_strand([this] { topology_.stop(); });
    work_.reset();
    ioc_.stop();
    thread_.join();
  }
  void on_strand(std::function<void()> f) {
    std::promise<void> done;
    boost::asio::post(strand_, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }
  // The first reported map (since the last call) that `good` accepts; throws after 10 s.
  SlotMap await(const std::function<bool(const SlotMap&)>& good) {
    std::unique_lock lock(mutex_);
    SlotMap found;
    bool ok = changed_.wait_for(lock, std::chrono::seconds(10), [&] {
      for (; seen_ < maps_.size(); ++seen_)
        if (good(maps_[seen_])) {
          found = maps_[seen_++];
          return true;
        }
      return false;
    });
    if (!ok) throw std::runtime_error("no such map within 10 s");
    return found;
  }
  unsigned long refreshes() {
    unsigned long n = 0;
    on_strand([&] { n = topology_.refreshes(); });
    return n;
  }
  ClusterTopology& topology() { return topology_; }

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{ioc_.get_executor()};
  ClusterTopology::Strand strand_ = boost::asio::make_strand(ioc_);
  ClusterTopology topology_;
  std::thread thread_{[this] { ioc_.run(); }};
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<SlotMap> maps_;
  std::size_t seen_ = 0;
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
