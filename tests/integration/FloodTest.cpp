// Hostile traffic on one connection is bounded by a limit and leaves the other connections
// served: garbage frames, a message fragmented past the size limit, a reader that never reads.
#include <gtest/gtest.h>

#include "TestNode.h"
#include "WsClient.h"

namespace flood_test {  // this suite's own names: the sanitizer builds compile suites together

using namespace switchboard;
using namespace switchboard::test;
using nlohmann::json;

TEST(Floods, GarbageFramesCountAsRequestsAndAFloodEndsIn4029) {
  auto config = TestNode::default_config();
  config.request_rate = 1;
  config.request_burst = 10;
  config.rate_limit_strikes = 20;
  TestNode node(config);
  WsClient flooder(node.port()), bystander(node.port());
  for (int i = 0; i < 200; ++i)
    if (!flooder.try_send_text("x")) break;  // the node may close before all are sent
  auto closed = flooder.read_until_closed();
  ASSERT_TRUE(closed.closed) << closed.reason;
  EXPECT_EQ(closed.code, 4029);
  EXPECT_GE(node.metrics().errors(protocol::ErrorCode::bad_json), 10u);
  EXPECT_LE(node.metrics().errors(protocol::ErrorCode::bad_json), 11u);  // the burst, maybe one refill
  EXPECT_EQ(bystander.request({{"op", "ping"}})["ok"], true);
}

TEST(Floods, AMessageFragmentedPastTheSizeLimitIsClosedWith1009) {
  auto config = TestNode::default_config();
  config.max_message_size = 4096;
  config.max_queue_bytes = 2 * 4096;
  TestNode node(config);
  WsClient flooder(node.port()), bystander(node.port());
  std::string piece(1000, 'a');
  // Each fragment is small; together they pass 4 KiB: the node does not wait for the end. Sent
  // in one write, so that none is refused by a node that has already closed.
  std::string fragments = WsClient::encode_frame(1, piece, /*fin=*/false);
  for (int i = 0; i < 10; ++i) fragments += WsClient::encode_frame(0, piece, false);
  flooder.send_raw_bytes(fragments);
  auto closed = flooder.read_until_closed();
  ASSERT_TRUE(closed.closed) << closed.reason;
  EXPECT_EQ(closed.code, 1009);
  EXPECT_EQ(bystander.request({{"op", "ping"}})["ok"], true);
}

TEST(Floods, ManyTinyValidRequestsAreServedWithinTheRate) {
  auto config = TestNode::default_config();
  config.request_rate = 0;  // unlimited: a busy, well-behaved client
  TestNode node(config);
  WsClient busy(node.port()), bystander(node.port());
  constexpr int kRequests = 5000;
  for (int i = 0; i < kRequests; ++i) busy.send_json({{"op", "ping"}, {"id", i}});
  for (int i = 0; i < kRequests; ++i) ASSERT_EQ(busy.read_json()["id"], i);
  EXPECT_EQ(bystander.request({{"op", "ping"}})["ok"], true);
  EXPECT_TRUE(busy.is_open());
}

}  // namespace flood_test
