// Connections that stop talking are dropped within the configured bounds.
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include "TestNode.h"
#include "WsClient.h"

namespace timeout_test {  // this suite's own names: the sanitizer builds compile suites together

using namespace switchboard::test;

TEST(Timeouts, SilentWebSocketIsDroppedAfterTheIdleTimeout) {
  auto config = TestNode::default_config();
  config.idle_timeout = std::chrono::seconds(1);
  TestNode node(config);
  WsClient silent(node.port());
  silent.request({{"op", "subscribe"}, {"room", "r"}});
  silent.pause_reading();  // never reads, so never answers the node's ping
  EXPECT_TRUE(eventually([&] { return node.dispatcher().connection_count() == 0; }, std::chrono::seconds(10)));
  EXPECT_EQ(node.dispatcher().registry().room_count(), 0u);
}

TEST(Timeouts, ClientsThatAnswerPingsStay) {
  auto config = TestNode::default_config();
  config.idle_timeout = std::chrono::seconds(1);
  TestNode node(config);
  WsClient alive(node.port());
  // Reading answers the node's pings; wait until several idle periods have passed.
  for (int i = 0; i < 100 && alive.pings_received() < 3; ++i)
    ASSERT_TRUE(alive.quiet_for(std::chrono::milliseconds(200)));
  ASSERT_GE(alive.pings_received(), 3);
  EXPECT_EQ(alive.request({{"op", "ping"}})["ok"], true);
}

TEST(Timeouts, UnfinishedHandshakeIsDropped) {
  auto config = TestNode::default_config();
  config.handshake_timeout = std::chrono::seconds(1);
  TestNode node(config);
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket socket(ioc);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), node.port()});
  boost::asio::write(socket, boost::asio::buffer(std::string("GET /ws HTTP/1.1\r\nHost: x\r\n")));
  // The node closes the socket: the read ends with EOF (or a reset). Bounded by run_for.
  char byte;
  boost::system::error_code ec;
  bool done = false;
  socket.async_read_some(boost::asio::buffer(&byte, 1), [&](boost::system::error_code e, std::size_t) {
    ec = e;
    done = true;
  });
  ioc.run_for(std::chrono::seconds(10));
  ASSERT_TRUE(done) << "the node kept a half-sent handshake open";
  EXPECT_TRUE(ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset) << ec.message();
}

}  // namespace timeout_test
