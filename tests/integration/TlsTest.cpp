// wss:// and https:// with a certificate made for the test.
#include <gtest/gtest.h>

#include "ScratchDir.h"
#include "TestCert.h"
#include "TestNode.h"
#include "WsClient.h"

namespace tls_test {  // this suite's own names: the sanitizer builds compile suites together

using namespace switchboard::test;
using nlohmann::json;

namespace {
TestNode make_tls_node(const std::string& dir) {
  auto cert = make_test_cert(dir);
  auto config = TestNode::default_config();
  config.tls_cert = cert.cert_path;
  config.tls_key = cert.key_path;
  return TestNode(config);
}
}  // namespace

TEST(Tls, WssCarriesTheSameProtocol) {
  const ScratchDir dir("tls");
  {
    TestNode node = make_tls_node(dir.str());
    ASSERT_NE(node.tls_port(), 0);
    WsClient::Options tls;
    tls.tls = true;
    WsClient secure(node.tls_port(), tls);
    WsClient plain(node.port());
    EXPECT_EQ(secure.request({{"op", "subscribe"}, {"room", "s"}})["ok"], true);
    EXPECT_EQ(plain.request({{"op", "subscribe"}, {"room", "s"}})["ok"], true);
    plain.send_json({{"op", "publish"}, {"room", "s"}, {"data", "across"}});
    EXPECT_EQ(secure.read_json()["data"], "across");
    EXPECT_EQ(plain.read_json()["data"], "across");
    secure.send_json({{"op", "publish"}, {"room", "s"}, {"data", "back"}});
    EXPECT_EQ(plain.read_json()["data"], "back");
    EXPECT_EQ(http_get(node.tls_port(), "/healthz", /*tls=*/true).status, 200);
    auto closed = secure.close();
    EXPECT_TRUE(closed.closed);
  }
}

// Messages larger than a TLS connection's read buffer (and than a TLS record), text and binary,
// arrive whole in both directions, plain and compressed (permessage-deflate).
TEST(Tls, LargeMessagesCrossWholeInBothDirections) {
  const ScratchDir dir("tls");
  TestNode node = make_tls_node(dir.str());
  for (const bool deflate : {false, true}) {
    SCOPED_TRACE(deflate ? "compressed" : "plain");
    WsClient::Options tls;
    tls.tls = true;
    tls.deflate = deflate;
    WsClient secure(node.tls_port(), tls);
    ASSERT_EQ(secure.request({{"op", "subscribe"}, {"room", "big"}})["ok"], true);
    const std::string text(40000, 't');
    EXPECT_EQ(secure.request({{"op", "publish"}, {"room", "big"}, {"data", text}})["ok"], true);
    EXPECT_EQ(secure.read_json()["data"], text);
    std::string bytes(50000, '\0');
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 13);
    secure.send_binary("{\"op\":\"publish\",\"id\":7,\"room\":\"big\"}\n" + bytes);
    // The push and the reply, in either order.
    Frame first = secure.read_frame(), second = secure.read_frame();
    const Frame& pushed = first.text ? second : first;
    const Frame& reply = first.text ? first : second;
    EXPECT_FALSE(pushed.text);
    EXPECT_EQ(pushed.data.substr(pushed.data.find('\n') + 1), bytes);
    EXPECT_EQ(json::parse(reply.data)["id"], 7);
  }
  EXPECT_TRUE(eventually([&] { return node.metrics().deflated_frames_sent.load() == 2; }));
  EXPECT_GE(node.metrics().deflated_messages_received.load(), 3u);
}

TEST(Tls, PlainTextOnTheTlsPortIsDropped) {
  const ScratchDir dir("tls");
  {
    TestNode node = make_tls_node(dir.str());
    EXPECT_THROW(http_get(node.tls_port(), "/healthz", /*tls=*/false, std::chrono::milliseconds(2000)),
                 std::runtime_error);
    EXPECT_EQ(http_get(node.port(), "/healthz").status, 200);
  }
}

TEST(Tls, MissingCertificateFailsToStart) {
  auto config = TestNode::default_config();
  config.tls_cert = "/nonexistent/cert.pem";
  config.tls_key = "/nonexistent/key.pem";
  EXPECT_ANY_THROW(TestNode node(config));
}

}  // namespace tls_test
