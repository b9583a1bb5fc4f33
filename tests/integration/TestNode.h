#pragma once
// A real Switchboard node inside the test process, on 127.0.0.1 and free ports.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "ClusterParts.h"
#include "RedisServer.h"
#include "WsClient.h"
#include "admission/Authentication.h"
#include "dispatch/Dispatcher.h"
#include "observability/Metrics.h"
#include "switchboard/auth/AnonymousAuthenticator.h"
#include "switchboard/server/Server.h"

namespace switchboard::test {

class TestNode {
 public:
  static server::Config default_config() {
    server::Config c;
    c.bind = "127.0.0.1";
    c.port = 0;
    c.tls_port = 0;
    c.allow_anonymous = true;
    c.threads = 2;
    c.static_dir = SWITCHBOARD_SOURCE_DIR "/web-client";
    c.publish_rate = 0;
    c.log_level = "warn";
    return c;
  }
  // Tokens only (no anonymous fallback), HS256 with `secret`, no leeway on expiry.
  static server::Config jwt_config(const std::string& secret) {
    auto c = default_config();
    c.allow_anonymous = false;
    c.jwt_secret = secret;
    c.jwt_leeway = std::chrono::seconds(0);
    return c;
  }

  // A node whose authenticator comes from `config`, as the executable's does.
  explicit TestNode(server::Config config = default_config()) : TestNode(prepared(std::move(config))) {}

  TestNode(server::Config config, std::unique_ptr<auth::Authenticator> authenticator)
      : TestNode(config, std::move(authenticator), server::make_cluster_parts(config)) {}
  TestNode(const server::Config& config, std::unique_ptr<auth::Authenticator> authenticator, server::ClusterParts parts)
      : server_(config, std::move(authenticator), std::move(parts.broker), std::move(parts.presence),
                std::move(parts.control)) {
    server_.start();
  }

  std::uint16_t port() const { return server_.port(); }
  std::uint16_t tls_port() const { return server_.tls_port(); }
  server::Server& server() { return server_; }
  server::Metrics& metrics() { return server_.metrics(); }
  const server::Dispatcher& dispatcher() const { return server_.dispatcher(); }

 private:
  struct Prepared {
    server::Config config;
    std::unique_ptr<auth::Authenticator> authenticator;
  };
  static Prepared prepared(server::Config config) {
    server::apply_dev_mode(config);
    auto authenticator = server::make_authenticator(config);
    return {std::move(config), std::move(authenticator)};
  }
  explicit TestNode(Prepared p) : TestNode(std::move(p.config), std::move(p.authenticator)) {}

  server::Server server_;
};

// Waits for a condition the node reaches asynchronously (a connection cleaned up, a counter
// moved), checking it after each short yield, for at most `deadline`. Returns whether it held.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds deadline = std::chrono::seconds(5)) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// A node of a cluster on the test's Redis.
inline server::Config cluster_config(const RedisServer& redis) {
  auto c = TestNode::default_config();
  c.redis = redis.url();
  c.redis_prefix = "test:";
  return c;
}

// Waits until the node reaches Redis: it is ready then.
inline void wait_ready(TestNode& node) {
  ASSERT_TRUE(eventually([&] { return http_get(node.port(), "/readyz").status == 200; })) << "node never ready";
}

}  // namespace switchboard::test
