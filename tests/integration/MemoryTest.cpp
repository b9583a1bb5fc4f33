// Memory per connection and per node stays bounded whatever clients ask for: history replies
// fit the connection's queue, a write that makes no progress ends the connection, the history
// has a node-wide byte budget, and HTTP publishes are rate limited.
#include <gtest/gtest.h>

#include <thread>

#include "SseClient.h"
#include "TestNode.h"
#include "TestToken.h"
#include "WsClient.h"

namespace memory_test {  // this suite's own names: the sanitizer builds compile suites together

using namespace switchboard;
using namespace switchboard::test;
using nlohmann::json;

namespace {

// A message of about `bytes` bytes, published through POST /api/publish.
int publish_over_http(std::uint16_t port, const std::string& room, std::size_t bytes,
                      const std::map<std::string, std::string>& headers = {}) {
  json body = {{"room", room}, {"data", std::string(bytes, 'x')}};
  auto all = headers;
  all.emplace("Content-Type", "application/json");
  return http_request(port, "POST", "/api/publish", all, body.dump()).status;
}

// The tests fill rooms through POST /api/publish from one address: faster than its default rate.
server::Config unlimited_config() {
  auto c = TestNode::default_config();
  c.http_publish_rate_per_ip = 0;
  return c;
}

WsClient::Options small_receive_buffer() {
  WsClient::Options opts;
  opts.rcvbuf = 4096;
  return opts;
}

}  // namespace

TEST(Memory, AHistoryReplyHoldsTheNewestMessagesThatFitHalfTheQueue) {
  auto config = unlimited_config();
  TestNode node(config);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(publish_over_http(node.port(), "big", 60000), 200);
  WsClient c(node.port());
  json reply = c.request({{"op", "history"}, {"room", "big"}, {"limit", 1000}});
  ASSERT_EQ(reply["ok"], true) << reply.dump().substr(0, 200);
  EXPECT_EQ(reply["truncated"], true);
  const auto& messages = reply["messages"];
  ASSERT_FALSE(messages.empty());
  EXPECT_LT(messages.size(), 100u);
  EXPECT_LE(reply.dump().size(), config.max_queue_bytes / 2);
  // The newest ones, in order, up to the room's latest.
  EXPECT_EQ(messages.back()["offset"], 100);
  EXPECT_EQ(messages.front()["offset"], 100 - messages.size() + 1);
  EXPECT_EQ(node.metrics().history_replies_truncated.load(), 1u);
  // What fits is not flagged.
  json small = c.request({{"op", "history"}, {"room", "big"}, {"limit", 2}});
  EXPECT_EQ(small["messages"].size(), 2u);
  EXPECT_FALSE(small.contains("truncated"));
}

TEST(Memory, HistoryRepliesToAClientThatDoesNotReadCountAgainstTheQueue) {
  auto config = unlimited_config();
  config.close_timeout = std::chrono::milliseconds(200);
  TestNode node(config);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(publish_over_http(node.port(), "big", 60000), 200);
  constexpr int kClients = 5;
  std::vector<WsClient> clients;
  for (int i = 0; i < kClients; ++i) clients.emplace_back(node.port(), small_receive_buffer());
  // Each asks again and again and never reads: its replies pile up until the node closes it.
  for (auto& c : clients)
    for (int n = 0; n < 40 && c.try_send_text(R"({"op":"history","id":1,"room":"big","limit":1000})"); ++n) {
    }
  EXPECT_TRUE(eventually([&] { return node.metrics().slow_consumers.load() == kClients; }, std::chrono::seconds(10)));
  EXPECT_TRUE(eventually([&] { return node.dispatcher().connection_count() == 0; }, std::chrono::seconds(10)));
}

TEST(Memory, AWriteThatMakesNoProgressForTheWriteTimeoutCutsTheConnection) {
  auto config = unlimited_config();
  config.max_queue_bytes = 64 * 1024 * 1024;  // the queue bound is not what ends it here
  config.write_timeout = std::chrono::seconds(1);
  config.idle_timeout = std::chrono::seconds(4);
  TestNode node(config);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(publish_over_http(node.port(), "big", 60000), 200);
  WsClient reader(node.port());
  WsClient stalled(node.port(), small_receive_buffer());
  // Far more than the socket buffers hold: the node's write stalls, and the client never reads.
  for (int i = 0; i < 4; ++i) stalled.send_text(R"({"op":"history","id":1,"room":"big","limit":1000})");
  // It keeps sending requests that get no reply (no id): the connection is not idle, yet it is cut.
  EXPECT_TRUE(eventually(
      [&] {
        if (node.metrics().write_timeouts.load() > 0) return true;
        stalled.try_send_text(R"({"op":"ping"})");
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the client's pace
        return false;
      },
      std::chrono::seconds(10)));
  EXPECT_EQ(node.metrics().write_timeouts.load(), 1u);
  EXPECT_EQ(node.metrics().slow_consumers.load(), 1u);
  EXPECT_EQ(node.metrics().closes(4008), 1u);
  EXPECT_TRUE(eventually([&] { return node.dispatcher().connection_count() == 1; }));
  // A client that reads is not touched.
  EXPECT_EQ(reader.request({{"op", "ping"}})["ok"], true);
}

TEST(Memory, AServerSentEventsStreamHasTheSameWriteTimeout) {
  auto config = unlimited_config();
  config.max_queue_bytes = 64 * 1024 * 1024;
  config.write_timeout = std::chrono::seconds(1);
  config.sse_keepalive = std::chrono::seconds(60);  // the keep-alive is not what ends it
  TestNode node(config);
  SseClient stuck(node.port(), "/sse?rooms=big", {.headers = {}, .http10 = false, .rcvbuf = 4096});
  ASSERT_EQ(json::parse(stuck.next().data)["type"], "subscribed");
  // Published until a write to the stream stalls for the write timeout; never read.
  for (int i = 0; i < 400 && node.metrics().write_timeouts.load() == 0; ++i)
    ASSERT_EQ(publish_over_http(node.port(), "big", 60000), 200);
  EXPECT_TRUE(eventually([&] { return node.metrics().write_timeouts.load() == 1; }, std::chrono::seconds(10)));
  EXPECT_EQ(node.metrics().closes(4008), 1u);
  EXPECT_TRUE(eventually([&] { return node.dispatcher().connection_count() == 0; }));
}

TEST(Memory, TheHistoryHasANodeWideByteBudgetThatEvictsTheOldestFirst) {
  auto config = unlimited_config();
  config.history_ttl = std::chrono::seconds(6);
  config.history_max_bytes = 4 * 1024 * 1024;
  TestNode node(config);
  // The first and the last room are watched, to recover from their start later.
  WsClient watcher(node.port());
  json first = watcher.request({{"op", "subscribe"}, {"room", "mem:0"}});
  json last = watcher.request({{"op", "subscribe"}, {"room", "mem:299"}});
  ASSERT_EQ(first["ok"], true);
  // One client, 300 rooms of 60 KB each: far more than the budget.
  for (int i = 0; i < 300; ++i) ASSERT_EQ(publish_over_http(node.port(), "mem:" + std::to_string(i), 60000), 200);
  auto metrics = http_get(node.port(), "/metrics").body;
  EXPECT_NE(metrics.find("switchboard_history_evictions_total{reason=\"max_bytes\"} "), std::string::npos);
  auto bytes = [&] {
    auto at = metrics.find("\nswitchboard_history_bytes ");
    return at == std::string::npos ? 0ul : std::stoul(metrics.substr(at + 27));
  }();
  EXPECT_GT(bytes, 0u);
  EXPECT_LE(bytes, config.history_max_bytes);
  // Evicted: a recovery from before the evicted message is refused, never a silent gap.
  WsClient late(node.port());
  json lost = late.request({{"op", "subscribe"}, {"room", "mem:0"}, {"since", {{"offset", 0}, {"epoch", first["epoch"]}}}});
  EXPECT_EQ(lost["recovered"], false);
  EXPECT_TRUE(late.request({{"op", "history"}, {"room", "mem:0"}})["messages"].empty());
  // The newest are kept.
  json kept = late.request({{"op", "subscribe"}, {"room", "mem:299"}, {"since", {{"offset", 0}, {"epoch", last["epoch"]}}}});
  EXPECT_EQ(kept["recovered"], true);
  EXPECT_EQ(late.read_until([](const json& f) { return f.value("type", "") == "message"; })["room"], "mem:299");
}

TEST(Memory, HttpPublishesAreRateLimitedPerAddressPerUserAndPerKey) {
  const std::string secret = "memory-test-secret-0123456789abcdef";
  const std::string key = "backend-key-0123456789abcdef";
  auto config = TestNode::default_config();
  config.jwt_secret = secret;
  config.api_keys = key;
  config.http_publish_rate_per_ip = 0.001;  // nothing refills during the test
  config.http_publish_rate_per_user = 0.001;
  config.http_publish_burst = 3;
  TestNode node(config);
  auto publish = [&](const std::string& bearer) {
    std::map<std::string, std::string> headers;
    if (!bearer.empty()) headers["Authorization"] = "Bearer " + bearer;
    json body = {{"room", "r"}, {"data", 1}};
    headers["Content-Type"] = "application/json";
    return http_request(node.port(), "POST", "/api/publish", headers, body.dump());
  };
  // Anonymous callers, by address.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(publish("").status, 200);
  auto refused = publish("");
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(json::parse(refused.body)["error"]["code"], "rate_limited");
  EXPECT_EQ(refused.header("retry-after"), "1000");
  EXPECT_EQ(node.metrics().http_publishes_rate_limited("address"), 1u);
  // Each token user has a bucket of its own.
  const auto alice = user_token(secret, "alice"), bob = user_token(secret, "bob");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(publish(alice).status, 200);
  EXPECT_EQ(publish(alice).status, 429);
  EXPECT_EQ(publish(bob).status, 200);
  EXPECT_EQ(node.metrics().http_publishes_rate_limited("user"), 1u);
  // API keys are unlimited by default.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(publish(key).status, 200);
  EXPECT_EQ(node.metrics().api_requests("publish", 429), 2u);
  EXPECT_NE(http_get(node.port(), "/metrics").body.find("switchboard_http_publishes_rate_limited_total{by=\"user\"} 1"),
            std::string::npos);
}

TEST(Memory, ApiKeysHaveTheirOwnPublishRate) {
  auto config = TestNode::default_config();
  config.api_keys = "first-key-0123456789abcdef,second-key-0123456789abcdef";
  config.http_publish_rate_per_key = 0.001;
  config.http_publish_burst = 2;
  TestNode node(config);
  auto publish = [&](const std::string& key) {
    return http_request(node.port(), "POST", "/api/publish",
                        {{"Authorization", "Bearer " + key}, {"Content-Type", "application/json"}},
                        R"({"room":"r","data":1})")
        .status;
  };
  EXPECT_EQ(publish("first-key-0123456789abcdef"), 200);
  EXPECT_EQ(publish("first-key-0123456789abcdef"), 200);
  EXPECT_EQ(publish("first-key-0123456789abcdef"), 429);
  EXPECT_EQ(publish("second-key-0123456789abcdef"), 200);
  EXPECT_EQ(node.metrics().http_publishes_rate_limited("api_key"), 1u);
}

}  // namespace memory_test
