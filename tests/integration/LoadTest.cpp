// Slow readers and many connections: the node stays bounded and keeps serving everyone else.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include "TestNode.h"
#include "WsClient.h"

namespace load_test {  // this suite's own names: the sanitizer builds compile suites together

using namespace switchboard;
using namespace switchboard::test;
using nlohmann::json;

TEST(Load, SlowConsumerIsClosedWith4008AndOthersAreServed) {
  auto config = TestNode::default_config();
  config.max_queue_bytes = 256 * 1024;
  config.close_timeout = std::chrono::seconds(60);  // the slow reader gets to read its close frame
  TestNode node(config);

  WsClient::Options small_window;
  small_window.rcvbuf = 4096;
  small_window.deadline = std::chrono::seconds(30);
  WsClient slow(node.port(), small_window), fast(node.port()), pub(node.port());
  slow.request({{"op", "subscribe"}, {"room", "firehose"}});
  fast.request({{"op", "subscribe"}, {"room", "firehose"}});
  slow.pause_reading();

  // 600 × 16 KiB ≈ 9.6 MiB: more than the slow reader's kernel buffers and queue can hold.
  const std::string payload(16 * 1024, 'x');
  constexpr int kMessages = 600;
  for (int i = 0; i < kMessages; ++i) {
    pub.send_json({{"op", "publish"}, {"room", "firehose"}, {"data", {{"i", i}, {"p", payload}}}});
    ASSERT_EQ(fast.read_json()["data"]["i"], i);  // the fast reader keeps up and misses nothing
  }
  ASSERT_TRUE(eventually([&] { return node.metrics().slow_consumers.load() == 1; }, std::chrono::seconds(10)));

  CloseInfo info = slow.read_until_closed();
  EXPECT_TRUE(info.closed);
  EXPECT_EQ(info.code, 4008);
  EXPECT_EQ(info.reason, "slow consumer");
  EXPECT_GT(node.metrics().deliveries_dropped_slow_consumer.load(), 0u);
  EXPECT_EQ(node.metrics().closes(4008), 1u);

  pub.send_json({{"op", "publish"}, {"room", "firehose"}, {"data", {{"i", kMessages}}}});
  EXPECT_EQ(fast.read_json()["data"]["i"], kMessages);
  EXPECT_TRUE(eventually([&] { return node.dispatcher().registry().subscription_count() == 1; }));
}

TEST(Load, SmallAndLargeMessagesQueuedTogetherArriveWholeAndInOrder) {
  // A reader with a small receive buffer reads nothing until all is published: 12 MB, more than
  // the kernel buffers hold (4 MiB of send buffer at most here), so the node's queue fills and
  // each write gathers many frames: small ones copied into the staged block, large ones (1 KiB
  // and more) as pieces of their own, and those past a write's 64 KiB alone. Headers of 2, 4
  // and 10 bytes.
  auto config = TestNode::default_config();
  config.max_message_size = 256 * 1024;
  config.max_queue_bytes = 32 * 1024 * 1024;
  TestNode node(config);
  WsClient::Options small_window;
  small_window.rcvbuf = 4096;
  small_window.deadline = std::chrono::seconds(30);
  WsClient reader(node.port(), small_window), pub(node.port());
  reader.request({{"op", "subscribe"}, {"room", "mix"}});

  const std::vector<std::size_t> sizes = {5, 90, 126, 1000, 1024, 1100, 20, 65535, 65536, 70000, 3};
  auto text_of = [](int i, std::size_t size) { return std::string(size, static_cast<char>('a' + i % 26)); };
  constexpr int kMessages = 660;  // 60 × the sizes: about 12 MB
  for (int i = 0; i < kMessages; ++i) {
    json reply = pub.request({{"op", "publish"}, {"room", "mix"}, {"data", {{"i", i}, {"p", text_of(i, sizes[i % sizes.size()])}}}});
    ASSERT_EQ(reply["ok"], true) << reply.dump();
  }
  for (int i = 0; i < kMessages; ++i) {
    json m = reader.read_json();
    ASSERT_EQ(m["data"]["i"], i);
    ASSERT_EQ(m["data"]["p"], text_of(i, sizes[i % sizes.size()])) << "message " << i;
  }
  EXPECT_EQ(node.metrics().slow_consumers.load(), 0u);
  EXPECT_LT(node.metrics().socket_writes.load(), node.metrics().frames_sent.load());  // gathered
}

TEST(Load, AReaderThatNeverReadsIsCutAfterTheCloseTimeout) {
  auto config = TestNode::default_config();
  config.max_queue_bytes = 64 * 1024;
  config.close_timeout = std::chrono::milliseconds(200);
  TestNode node(config);
  WsClient::Options small_window;
  small_window.rcvbuf = 4096;
  WsClient slow(node.port(), small_window), pub(node.port());
  slow.request({{"op", "subscribe"}, {"room", "r"}});
  const std::string payload(32 * 1024, 'x');
  for (int i = 0; i < 300 && node.metrics().slow_consumers.load() == 0; ++i)
    pub.request({{"op", "publish"}, {"room", "r"}, {"data", payload}});
  ASSERT_EQ(node.metrics().slow_consumers.load(), 1u);
  // Without ever reading, the connection is gone from the node within the close timeout.
  EXPECT_TRUE(eventually([&] { return node.dispatcher().connection_count() == 1; }, std::chrono::seconds(10)));
}

TEST(Load, AThousandConnectionsInOneRoom) {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  ASSERT_GE(limit.rlim_cur, 6000u) << "need file descriptors for 1,000 clients and their node";

  TestNode node;
  constexpr int kClients = 1000;
  std::vector<std::unique_ptr<WsClient>> clients;
  clients.reserve(kClients);
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<WsClient>(node.port()));
    clients.back()->send_json({{"op", "subscribe"}, {"room", "big"}});
    clients.back()->send_json({{"op", "subscribe"}, {"room", "small:" + std::to_string(i % 10)}});
  }
  // Requests on one connection are handled in order: a ping reply means its subscribes are done.
  for (auto& c : clients) ASSERT_EQ(c->request({{"op", "ping"}})["ok"], true);
  EXPECT_EQ(node.dispatcher().connection_count(), static_cast<std::size_t>(kClients));
  EXPECT_EQ(node.dispatcher().registry().room_count(), 11u);

  WsClient pub(node.port());
  pub.request({{"op", "publish"}, {"room", "big"}, {"data", "to all"}});
  pub.request({{"op", "publish"}, {"room", "small:3"}, {"data", "to some"}});
  int got_small = 0;
  for (int i = 0; i < kClients; ++i) {
    ASSERT_EQ(clients[i]->read_json()["data"], "to all");
    if (i % 10 == 3) {
      ASSERT_EQ(clients[i]->read_json()["data"], "to some");
      ++got_small;
    }
  }
  EXPECT_EQ(got_small, kClients / 10);
  for (int i = 0; i < kClients; ++i) {
    if (i % 2) clients[i]->close();
    else clients[i]->drop();
  }
  clients.clear();
  EXPECT_TRUE(eventually([&] { return node.dispatcher().connection_count() == 1; }, std::chrono::seconds(20)));
  EXPECT_EQ(node.dispatcher().registry().room_count(), 0u);
}

}  // namespace load_test
