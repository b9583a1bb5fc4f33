// The node's HTTP side: health, metrics, static files, and what the upgrade path refuses.
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>

#include "TestNode.h"
#include "WsClient.h"

namespace http_test {  // this suite's own names: the sanitizer builds compile suites together

using namespace switchboard::test;
using nlohmann::json;

TEST(Http, HealthzAnswers200) {
  TestNode node;
  auto r = http_get(node.port(), "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body), (json{{"status", "ok"}}));
  EXPECT_EQ(http_request(node.port(), "HEAD", "/healthz").status, 200);
}

TEST(Http, UnknownPathsAre404WithJsonBody) {
  TestNode node;
  for (const char* path : {"/nope", "/../CMakeLists.txt", "/demo/../../CMakeLists.txt", "/%2e%2e/README.md",
                           "/.git/config", "/demo/", "/package.json", "/test/unit.test.js",
                           "/node_modules/ws/package.json", "/README.md"}) {
    auto r = http_get(node.port(), path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(json::parse(r.body)["error"]["code"], "not_found") << path;
  }
}

TEST(Http, ServesTheDemoPage) {
  TestNode node;
  auto r = http_get(node.port(), "/");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.header("content-type").find("text/html"), std::string::npos);
  EXPECT_NE(r.body.find("<html"), std::string::npos);
}

TEST(Http, ServesTheClientModule) {
  TestNode node;
  auto r = http_get(node.port(), "/switchboard.js");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.header("content-type").find("text/javascript"), std::string::npos);
  EXPECT_EQ(http_get(node.port(), "/demo/app.js").status, 200);
  auto module = http_get(node.port(), "/src/client.js");  // a module switchboard.js imports
  EXPECT_EQ(module.status, 200);
  EXPECT_NE(module.header("content-type").find("text/javascript"), std::string::npos);
}

TEST(Http, WrongMethodAndPlainGetOfWs) {
  TestNode node;
  EXPECT_EQ(http_request(node.port(), "POST", "/healthz", {}, "x").status, 405);
  auto r = http_get(node.port(), "/ws");
  EXPECT_EQ(r.status, 426);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "upgrade_required");
}

TEST(Http, UpgradeOnlyAtWs) {
  TestNode node;
  WsClient::Options o;
  o.target = "/elsewhere";
  EXPECT_EQ(WsClient::try_handshake(node.port(), o).status, 404);
  o.target = "/ws?token=ignored-by-anonymous";
  EXPECT_EQ(WsClient::try_handshake(node.port(), o).status, 101);
}

TEST(Http, OversizeHeadersAreRefused) {
  TestNode node;
  auto r = http_request(node.port(), "GET", "/healthz", {{"X-Big", std::string(16 * 1024, 'a')}});
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(node.metrics().http_refused("unread", "too_large"), 1u);
}

TEST(Http, MetricsCountWhatHappened) {
  TestNode node;
  {
    WsClient a(node.port());
    a.request({{"op", "subscribe"}, {"room", "m"}});
    a.send_text("garbage");
    a.read_json();
    auto text = http_get(node.port(), "/metrics").body;
    EXPECT_NE(text.find("switchboard_connections 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("switchboard_rooms 1\n"), std::string::npos);
    EXPECT_NE(text.find("switchboard_request_errors_total{code=\"bad_json\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("# TYPE switchboard_deliveries_total counter"), std::string::npos);
  }
  EXPECT_TRUE(eventually([&] { return node.metrics().connections_current.load() == 0; }));
}

namespace {
// Writes `bytes` to the node as they are and reads its answer until it closes the connection
// (bounded: 10 s).
std::string exchange(std::uint16_t port, const std::string& bytes) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket socket(ioc);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  boost::asio::write(socket, boost::asio::buffer(bytes));
  std::string answer;
  bool closed = false;
  boost::asio::async_read(socket, boost::asio::dynamic_buffer(answer),
                          [&](boost::system::error_code, std::size_t) { closed = true; });
  ioc.run_for(std::chrono::seconds(10));
  EXPECT_TRUE(closed) << "the node kept the connection open after answering: " << answer;
  return answer;
}

json body_of(const std::string& answer) {
  auto blank = answer.find("\r\n\r\n");
  return blank == std::string::npos ? json() : json::parse(answer.substr(blank + 4), nullptr, false);
}
}  // namespace

TEST(Http, WhatIsNotHttpOrNotAHandshakeIsAnswered400WithAJsonBody) {
  TestNode node;
  for (const std::string& request : {std::string("HELLO\r\n\r\n"),
                                    std::string("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")}) {
    auto answer = exchange(node.port(), request);
    EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
    EXPECT_EQ(body_of(answer)["error"]["code"], "bad_request") << answer;
  }
  const std::string upgrade = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
  auto no_key = exchange(node.port(), upgrade + "Sec-WebSocket-Version: 13\r\n\r\n");
  EXPECT_EQ(no_key.rfind("HTTP/1.1 400", 0), 0u) << no_key;
  EXPECT_NE(body_of(no_key)["error"]["message"].get<std::string>().find("Sec-WebSocket-Key"), std::string::npos);
  auto old_version = exchange(node.port(), upgrade + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                                     "Sec-WebSocket-Version: 8\r\n\r\n");
  EXPECT_EQ(old_version.rfind("HTTP/1.1 426", 0), 0u) << old_version;
  EXPECT_NE(old_version.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos) << old_version;
  EXPECT_EQ(body_of(old_version)["error"]["code"], "bad_request") << old_version;
  auto no_version = exchange(node.port(), upgrade + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
  EXPECT_EQ(no_version.rfind("HTTP/1.1 400", 0), 0u) << no_version;
  auto empty_key = exchange(node.port(), upgrade + "Sec-WebSocket-Key: \r\nSec-WebSocket-Version: 13\r\n\r\n");
  EXPECT_EQ(empty_key.rfind("HTTP/1.1 400", 0), 0u) << empty_key;
  auto no_host = exchange(node.port(), "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  EXPECT_EQ(no_host.rfind("HTTP/1.1 400", 0), 0u) << no_host;
  EXPECT_EQ(node.metrics().handshakes_rejected("bad_request"), 5u);
  EXPECT_EQ(node.metrics().http_refused("unread", "bad_request"), 2u);
  // After an answered request on a kept-alive connection, what cannot be read (a stray blank line
  // some clients send after a body) closes the connection unanswered, as before: its client
  // retries on a new one rather than take a 400 for its next request.
  auto after = exchange(node.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(after.rfind("HTTP/1.1 200", 0), 0u) << after;
  EXPECT_EQ(after.find("HTTP/1.1 400"), std::string::npos) << after;
  // The node goes on: a well-formed handshake is still accepted.
  EXPECT_EQ(WsClient::try_handshake(node.port(), {}).status, 101);
}

}  // namespace http_test
