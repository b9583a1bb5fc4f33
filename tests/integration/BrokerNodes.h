#pragma once
// A fixture for the suites that run once on the embedded broker and once on Redis (their
// parameter: false, true; instantiated as Broker/<Suite>.<Test>/Embedded and …/Redis): on the
// embedded broker one node, which every node() is; on Redis, a redis-server and `count` nodes
// sharing it (prefix "test:"). A suite gives its configuration; with_broker() adds the Redis.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "RedisServer.h"
#include "TestNode.h"

namespace switchboard::test {

class BrokerNodes : public ::testing::TestWithParam<bool> {
 public:
  // The parameter's name in the tests' names.
  static std::string broker_name(const ::testing::TestParamInfo<bool>& info) { return info.param ? "Redis" : "Embedded"; }

 protected:
  // Starts the nodes (one on the embedded broker, `count` on Redis) with config(), each ready.
  void start(std::size_t count) {
    if (clustered()) redis_ = std::make_unique<RedisServer>();
    for (std::size_t i = 0; i < (clustered() ? count : 1); ++i) nodes_.push_back(std::make_unique<TestNode>(config()));
    for (auto& node : nodes_) {
      wait_ready(*node);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
  bool clustered() const { return GetParam(); }
  // The suite's configuration, through with_broker().
  virtual server::Config config() const = 0;
  server::Config with_broker(server::Config c) const {
    if (redis_) {
      c.redis = redis_->url();
      c.redis_prefix = "test:";
    }
    return c;
  }
  // Node i (the one node on the embedded broker).
  TestNode& node(std::size_t i) { return *nodes_[std::min(i, nodes_.size() - 1)]; }
  std::size_t node_count() const { return nodes_.size(); }
  RedisServer& redis() { return *redis_; }

 private:
  std::unique_ptr<RedisServer> redis_;
  std::vector<std::unique_ptr<TestNode>> nodes_;
};

}  // namespace switchboard::test
