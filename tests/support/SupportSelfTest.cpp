// Self-test for the test support library (WsClient, http_request, TestCert, RedisClusterProcess). Not part of the main
// build: it runs WsClient against a tiny Beast echo server started inside the test.
//
// Echo server protocol (one thread per connection, sync Beast, plain or TLS):
//   HTTP (no upgrade): 200, body "hello <method> <target> <body>", header x-echo-auth = Authorization
//   upgrade to /reject: 403, body "go away"
//   text "bye"       -> close with 4008 "slow consumer"
//   text "drop"      -> close TCP without a close frame
//   text "silence"   -> no answer
//   text "ping-me"   -> a ping, then text "pinged"
//   text "big:N"     -> a text frame of N bytes 'b'
//   JSON {"pushes":n,...} -> n frames {"type":"push","n":i}, then the echo
//   a message over 64 KiB -> Beast closes with 1009 (message too big)
//   anything else    -> echoed (text as text, binary as binary)
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <nlohmann/json.hpp>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "RedisClusterProcess.h"
#include "RedisSentinelProcess.h"
#include "TestCert.h"
#include "WsClient.h"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using switchboard::test::CloseInfo;
using switchboard::test::HttpResponse;
using switchboard::test::make_test_cert;
using switchboard::test::TestCert;
using switchboard::test::WsClient;

std::string unique_dir(const std::string& tag) {
  static std::atomic<int> counter{0};
  auto dir = std::filesystem::path(::testing::TempDir()) /
             ("sb-support-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::remove_all(dir);
  return dir.string();
}

// Shared certificate for the TLS variants. They load it from memory: its files are removed at
// once, so that no run leaves a directory behind.
const TestCert& shared_cert() {
  static const TestCert cert = [] {
    const auto dir = unique_dir("shared");
    TestCert made = make_test_cert(dir);
    std::filesystem::remove_all(dir);
    return made;
  }();
  return cert;
}

template <class F>
std::chrono::milliseconds time_it(F&& f) {
  auto start = Clock::now();
  f();
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

// ---------------------------------------------------------------------------------------------

constexpr std::size_t kServerMessageMax = 64 * 1024;

class EchoServer {
 public:
  explicit EchoServer(bool tls) : acceptor_(ioc_, tcp::endpoint(net::ip::address_v4::loopback(), 0)) {
    if (tls) {
      const auto& cert = shared_cert();
      ssl_ctx_.emplace(net::ssl::context::tls_server);
      ssl_ctx_->use_certificate_chain(net::buffer(cert.cert_pem));
      ssl_ctx_->use_private_key(net::buffer(cert.key_pem), net::ssl::context::pem);
    }
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { accept_loop(); });
  }

  ~EchoServer() {
    stop_ = true;
    {
      // Wake the blocking accept.
      beast::error_code ec;
      tcp::socket s(ioc_);
      s.connect(tcp::endpoint(net::ip::address_v4::loopback(), port_), ec);
      accept_thread_.join();
    }
    {
      std::lock_guard lock(mu_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : conns_) t.join();
  }

  std::uint16_t port() const { return port_; }

 private:
  void accept_loop() {
    while (!stop_) {
      beast::error_code ec;
      tcp::socket sock(ioc_);
      acceptor_.accept(sock, ec);
      if (ec || stop_) break;
      sock.set_option(tcp::no_delay(true), ec);
      std::lock_guard lock(mu_);
      fds_.push_back(sock.native_handle());
      conns_.emplace_back([this, s = std::move(sock)]() mutable { serve(std::move(s)); });
    }
  }

  void forget(int fd) {
    std::lock_guard lock(mu_);
    std::erase(fds_, fd);
  }

  void serve(tcp::socket sock) {
    // Unregisters the fd before the socket closes (declared after ws, so destroyed before it).
    struct Forget {
      EchoServer* self;
      int fd;
      ~Forget() { self->forget(fd); }
    };
    const int fd = sock.native_handle();
    try {
      if (ssl_ctx_) {
        websocket::stream<beast::ssl_stream<tcp::socket>> ws(std::move(sock), *ssl_ctx_);
        Forget guard{this, fd};
        ws.next_layer().handshake(net::ssl::stream_base::server);
        session(ws);
      } else {
        websocket::stream<tcp::socket> ws(std::move(sock));
        Forget guard{this, fd};
        session(ws);
      }
    } catch (const std::exception&) {
      // The client went away or the server is stopping; nothing to report.
    }
  }

  template <class Ws>
  void session(Ws& ws) {
    beast::flat_buffer buf;
    http::request<http::string_body> req;
    http::read(ws.next_layer(), buf, req);
    if (!websocket::is_upgrade(req)) {
      http::response<http::string_body> res{http::status::ok, req.version()};
      res.set("x-echo-auth", req[http::field::authorization]);
      res.set(http::field::content_type, "text/plain");
      res.body() = "hello " + std::string(req.method_string()) + " " + std::string(req.target()) + " " + req.body();
      res.keep_alive(false);
      res.prepare_payload();
      http::write(ws.next_layer(), res);
      return;
    }
    if (req.target() == "/reject") {
      http::response<http::string_body> res{http::status::forbidden, req.version()};
      res.body() = "go away";
      res.keep_alive(false);
      res.prepare_payload();
      http::write(ws.next_layer(), res);
      return;
    }
    ws.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set("x-echo-server", "1"); }));
    ws.read_message_max(kServerMessageMax);
    ws.accept(req);
    for (;;) {
      beast::flat_buffer msg;
      ws.read(msg);
      std::string text = beast::buffers_to_string(msg.data());
      if (!ws.got_text()) {
        ws.binary(true);
        ws.write(net::buffer(text));
        continue;
      }
      if (text == "bye") {
        ws.close(websocket::close_reason(static_cast<websocket::close_code>(4008), "slow consumer"));
        return;
      }
      if (text == "drop") {
        beast::get_lowest_layer(ws).close();
        return;
      }
      if (text == "silence") continue;
      if (text.rfind("big:", 0) == 0) {
        ws.text(true);
        ws.write(net::buffer(std::string(std::stoul(text.substr(4)), 'b')));
        continue;
      }
      ws.text(true);
      if (text == "ping-me") {
        ws.ping({});
        ws.write(net::buffer(std::string("pinged")));
        continue;
      }
      json j = json::parse(text, nullptr, false);
      if (j.is_object() && j.contains("pushes")) {
        for (int i = 0; i < j["pushes"].get<int>(); ++i)
          ws.write(net::buffer(json{{"type", "push"}, {"n", i}}.dump()));
      }
      ws.write(net::buffer(text));
    }
  }

  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::optional<net::ssl::context> ssl_ctx_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> conns_;
  std::thread accept_thread_;
};

// A listening socket that never answers (the kernel completes the TCP handshake).
struct SilentListener {
  net::io_context ioc;
  tcp::acceptor acceptor{ioc, tcp::endpoint(net::ip::address_v4::loopback(), 0)};
  std::uint16_t port() const { return acceptor.local_endpoint().port(); }
  // Accepts the connection the client left in the backlog (never blocks).
  bool accept_pending() {
    acceptor.non_blocking(true);
    beast::error_code ec;
    tcp::socket s(ioc);
    acceptor.accept(s, ec);
    return !ec;
  }
};

// ---------------------------------------------------------------------------------------------
// TestCert

TEST(TestCert, ParsesBackAndKeyMatchesCert) {
  const auto dir = unique_dir("cert");
  const TestCert tc = make_test_cert(dir);
  ASSERT_TRUE(std::filesystem::exists(tc.cert_path));
  ASSERT_TRUE(std::filesystem::exists(tc.key_path));
  EXPECT_EQ(std::filesystem::path(tc.cert_path).parent_path(), std::filesystem::path(dir));
  EXPECT_NE(tc.cert_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(tc.key_pem.find("BEGIN PRIVATE KEY"), std::string::npos);
  const auto perms = std::filesystem::status(tc.key_path).permissions();
  EXPECT_EQ(perms & std::filesystem::perms::group_read, std::filesystem::perms::none);
  EXPECT_EQ(perms & std::filesystem::perms::others_read, std::filesystem::perms::none);

  BIO* cbio = BIO_new_file(tc.cert_path.c_str(), "r");
  ASSERT_NE(cbio, nullptr);
  X509* cert = PEM_read_bio_X509(cbio, nullptr, nullptr, nullptr);
  BIO_free(cbio);
  ASSERT_NE(cert, nullptr);
  BIO* kbio = BIO_new_file(tc.key_path.c_str(), "r");
  ASSERT_NE(kbio, nullptr);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(kbio, nullptr, nullptr, nullptr);
  BIO_free(kbio);
  ASSERT_NE(key, nullptr);

  EXPECT_EQ(X509_check_private_key(cert, key), 1);
  EXPECT_TRUE(EVP_PKEY_is_a(key, "EC"));
  EXPECT_EQ(EVP_PKEY_get_bits(key), 256);
  EXPECT_EQ(X509_get_version(cert), X509_VERSION_3);
  EXPECT_EQ(X509_check_host(cert, "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "::1", 0), 1);
  EXPECT_NE(X509_check_host(cert, "example.com", 0, 0, nullptr), 1);
  char cn[64] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "localhost");
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)), 0);

  // Validity: started about an hour ago, still valid in 23 hours, expired in 2 days.
  time_t now = time(nullptr);
  time_t in_23h = now + 23 * 3600, in_2d = now + 48 * 3600, ago_30m = now - 1800;
  EXPECT_LT(X509_cmp_time(X509_get0_notBefore(cert), &ago_30m), 0);
  EXPECT_GT(X509_cmp_time(X509_get0_notAfter(cert), &in_23h), 0);
  EXPECT_LT(X509_cmp_time(X509_get0_notAfter(cert), &in_2d), 0);

  // Verifies as its own trust anchor for TLS server use, with hostname and IP checks.
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, cert);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, cert, nullptr);
  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
  X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), "localhost", 0);
  EXPECT_EQ(X509_verify_cert(ctx), 1) << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);

  // The in-memory PEMs parse too.
  BIO* mbio = BIO_new_mem_buf(tc.cert_pem.data(), static_cast<int>(tc.cert_pem.size()));
  X509* cert2 = PEM_read_bio_X509(mbio, nullptr, nullptr, nullptr);
  BIO_free(mbio);
  ASSERT_NE(cert2, nullptr);
  EXPECT_EQ(X509_cmp(cert, cert2), 0);
  X509_free(cert2);

  EVP_PKEY_free(key);
  X509_free(cert);

  // A second certificate in the same dir replaces the files with a new key.
  const TestCert tc2 = make_test_cert(dir);
  EXPECT_NE(tc2.key_pem, tc.key_pem);
  std::filesystem::remove_all(dir);
}

// ---------------------------------------------------------------------------------------------
// Deadlines

class Deadline : public ::testing::TestWithParam<bool> {};

TEST_P(Deadline, HandshakeToSilentServerThrowsWithinDeadline) {
  SilentListener silent;
  WsClient::Options opts;
  opts.tls = GetParam();
  opts.deadline = 300ms;
  std::string message;
  auto took = time_it([&] {
    try {
      WsClient c(silent.port(), opts);
      ADD_FAILURE() << "handshake to a silent server succeeded";
    } catch (const std::runtime_error& e) {
      message = e.what();
    }
  });
  EXPECT_NE(message.find("timed out after 300 ms"), std::string::npos) << message;
  EXPECT_NE(message.find(GetParam() ? "TLS handshake" : "WebSocket handshake"), std::string::npos) << message;
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 1500ms);
  EXPECT_TRUE(silent.accept_pending());
}

TEST_P(Deadline, TryHandshakeAndHttpRequestToSilentServerThrow) {
  SilentListener silent;
  WsClient::Options opts;
  opts.tls = GetParam();
  opts.deadline = 200ms;
  auto took = time_it([&] { EXPECT_THROW(WsClient::try_handshake(silent.port(), opts), std::runtime_error); });
  EXPECT_LT(took, 1500ms);
  took = time_it([&] {
    EXPECT_THROW(switchboard::test::http_request(silent.port(), "GET", "/", {}, {}, GetParam(), 200ms),
                 std::runtime_error);
  });
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 1500ms);
}

TEST_P(Deadline, ReadTimesOutAndClientIsThenUnusable) {
  EchoServer server(GetParam());
  WsClient::Options opts;
  opts.tls = GetParam();
  WsClient c(server.port(), opts);
  c.set_deadline(250ms);
  c.send_text("silence");
  std::string message;
  auto took = time_it([&] {
    try {
      c.read_json();
      ADD_FAILURE() << "read_json returned";
    } catch (const std::runtime_error& e) {
      message = e.what();
    }
  });
  EXPECT_NE(message.find("timed out after 250 ms waiting for a frame"), std::string::npos) << message;
  EXPECT_GE(took, 240ms);
  EXPECT_LT(took, 1500ms);
  EXPECT_FALSE(c.is_open());
  try {
    c.send_text("x");
    ADD_FAILURE() << "send after failure succeeded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("failed earlier"), std::string::npos) << e.what();
  }
}

TEST(DeadlineRefused, ConnectionRefusedThrowsQuickly) {
  std::uint16_t port;
  {
    SilentListener l;
    port = l.port();
  }  // closed: nothing listens there now
  auto took = time_it([&] {
    try {
      WsClient c(port);
      ADD_FAILURE() << "connected to a closed port";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("cannot connect"), std::string::npos) << e.what();
    }
  });
  EXPECT_LT(took, 1000ms);
}

INSTANTIATE_TEST_SUITE_P(PlainAndTls, Deadline, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? std::string("Tls") : std::string("Plain"); });

// ---------------------------------------------------------------------------------------------
// End to end against the echo server

class Echo : public ::testing::TestWithParam<bool> {
 protected:
  bool tls() const { return GetParam(); }
  WsClient::Options opts() const {
    WsClient::Options o;
    o.tls = tls();
    return o;
  }
  EchoServer server{GetParam()};
};

TEST_P(Echo, JsonRoundTrip) {
  WsClient c(server.port(), opts());
  EXPECT_TRUE(c.is_open());
  EXPECT_EQ(c.handshake_response().status, 101);
  EXPECT_EQ(c.handshake_response().header("X-Echo-Server"), "1");
  json j = {{"op", "publish"}, {"room", "r1"}, {"data", {{"x", 1}, {"s", "h\u00e9llo"}}}};
  c.send_json(j);
  EXPECT_EQ(c.read_json(), j);
  c.send_text("plain text");
  EXPECT_EQ(c.read_text(), "plain text");
  c.send_binary(std::string("\x00\x01\xff", 3));
  auto f = c.read_frame();
  EXPECT_FALSE(f.text);
  EXPECT_EQ(f.data, std::string("\x00\x01\xff", 3));
  EXPECT_THROW(
      {
        c.send_binary("bin");
        c.read_json();
      },
      std::runtime_error);
}

TEST_P(Echo, RequestKeepsInterleavedPushesInBacklog) {
  WsClient c(server.port(), opts());
  json reply = c.request({{"op", "echo"}, {"pushes", 2}});
  EXPECT_EQ(reply["id"], 1);
  EXPECT_EQ(reply["op"], "echo");
  EXPECT_EQ(c.backlog_size(), 2u);

  json reply2 = c.request({{"op", "echo"}, {"pushes", 1}});
  EXPECT_EQ(reply2["id"], 2);
  EXPECT_EQ(c.backlog_size(), 3u);

  json reply3 = c.request({{"op", "echo"}, {"id", "custom"}});
  EXPECT_EQ(reply3["id"], "custom");

  // Pushes come back first, in arrival order.
  EXPECT_EQ(c.read_json(), (json{{"type", "push"}, {"n", 0}}));
  EXPECT_EQ(c.read_json(), (json{{"type", "push"}, {"n", 1}}));
  EXPECT_EQ(c.read_json(), (json{{"type", "push"}, {"n", 0}}));
  EXPECT_EQ(c.backlog_size(), 0u);
  EXPECT_TRUE(c.quiet_for(100ms));
}

TEST_P(Echo, ReadUntilCollectsSkippedFrames) {
  WsClient c(server.port(), opts());
  for (int i = 0; i < 4; ++i) c.send_json({{"n", i}});
  json hit = c.read_until([](const json& j) { return j.value("n", -1) == 2; });
  EXPECT_EQ(hit["n"], 2);
  ASSERT_EQ(c.skipped().size(), 2u);
  EXPECT_EQ(c.skipped()[0]["n"], 0);
  EXPECT_EQ(c.skipped()[1]["n"], 1);
  EXPECT_EQ(c.read_json()["n"], 3);
  c.clear_skipped();
  EXPECT_TRUE(c.skipped().empty());
}

TEST_P(Echo, ReadUntilClosedReportsServerCloseCode) {
  WsClient c(server.port(), opts());
  c.send_json({{"n", 1}});  // its echo is discarded by read_until_closed
  c.send_text("bye");
  CloseInfo info = c.read_until_closed();
  EXPECT_TRUE(info.closed);
  EXPECT_EQ(info.code, 4008);
  EXPECT_EQ(info.reason, "slow consumer");
  EXPECT_FALSE(c.is_open());
  // Reading again reports the close instead of hanging.
  try {
    c.read_json();
    ADD_FAILURE() << "read after close returned";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("code 4008 'slow consumer'"), std::string::npos) << e.what();
  }
  EXPECT_EQ(c.read_until_closed().code, 4008);
  EXPECT_FALSE(c.try_send_text("late"));
}

TEST_P(Echo, ServerDropWithoutCloseFrame) {
  WsClient c(server.port(), opts());
  c.send_text("drop");
  CloseInfo info = c.read_until_closed();
  EXPECT_FALSE(info.closed);
  EXPECT_EQ(info.code, 0);
  EXPECT_FALSE(info.reason.empty());
}

TEST_P(Echo, CleanCloseFromClient) {
  WsClient c(server.port(), opts());
  c.send_json({{"n", 1}});
  EXPECT_EQ(c.read_json()["n"], 1);
  CloseInfo info = c.close(1000, "done");
  EXPECT_TRUE(info.closed);
  EXPECT_EQ(info.code, 1000);
  EXPECT_FALSE(c.is_open());
  EXPECT_THROW(c.send_text("x"), std::runtime_error);
}

TEST_P(Echo, QuietForLeavesPendingReadUsable) {
  WsClient c(server.port(), opts());
  c.send_text("silence");
  EXPECT_TRUE(c.quiet_for(150ms));
  c.send_json({{"after", "quiet"}});
  EXPECT_EQ(c.read_json()["after"], "quiet");
  // A frame that arrives during quiet_for ends the wait early and is kept.
  c.send_json({{"n", 7}});
  auto took = time_it([&] { EXPECT_FALSE(c.quiet_for(3000ms)); });
  EXPECT_LT(took, 2000ms);
  EXPECT_EQ(c.backlog_size(), 1u);
  EXPECT_EQ(c.read_json()["n"], 7);
  // quiet_for across a server close.
  c.send_text("bye");
  EXPECT_FALSE(c.quiet_for(3000ms));
  EXPECT_EQ(c.read_until_closed().code, 4008);
}

TEST_P(Echo, LargeFramesBothWays) {
  WsClient c(server.port(), opts());
  std::string at_limit(kServerMessageMax, 'a');
  c.send_text(at_limit);
  EXPECT_EQ(c.read_text(), at_limit);
  c.send_text("big:" + std::to_string(3 * 1024 * 1024));  // the client accepts up to 16 MiB
  EXPECT_EQ(c.read_text(), std::string(3 * 1024 * 1024, 'b'));
}

TEST_P(Echo, OversizeFrameIsSentWholeAndServerCloses1009) {
  WsClient c(server.port(), opts());
  c.send_text(std::string(kServerMessageMax + 1024, 'x'));
  CloseInfo info = c.read_until_closed();
  EXPECT_TRUE(info.closed) << info.reason;
  EXPECT_EQ(info.code, 1009);

  WsClient c2(server.port(), opts());
  EXPECT_TRUE(c2.try_send_text(std::string(1024 * 1024, 'y')));
  EXPECT_EQ(c2.read_until_closed().code, 1009);
  EXPECT_FALSE(c2.try_send_text("after close"));
}

TEST_P(Echo, ReadUntilClosedDiscardsUnreadBacklogOfData) {
  WsClient::Options o = opts();
  o.rcvbuf = 4096;
  WsClient c(server.port(), o);
  c.pause_reading();
  for (int i = 0; i < 50; ++i) c.send_text("big:60000");
  c.send_text("bye");
  CloseInfo info = c.read_until_closed();
  EXPECT_TRUE(info.closed);
  EXPECT_EQ(info.code, 4008);
}

TEST_P(Echo, PingAndRawFrames) {
  WsClient c(server.port(), opts());
  c.send_text("ping-me");
  EXPECT_EQ(c.read_text(), "pinged");
  EXPECT_EQ(c.pings_received(), 1);
  c.ping("hi");
  c.send_raw_bytes(WsClient::encode_frame(1, "raw"));
  EXPECT_EQ(c.read_text(), "raw");
  EXPECT_EQ(c.pongs_received(), 1);
  c.send_raw_bytes(WsClient::encode_frame(1, "ab", false) + WsClient::encode_frame(0, "cd", true));
  EXPECT_EQ(c.read_text(), "abcd");
  std::string mid(300, 'm');
  c.send_raw_bytes(WsClient::encode_frame(1, mid));
  EXPECT_EQ(c.read_text(), mid);
}

TEST_P(Echo, SmallReceiveBufferAndCustomHeaders) {
  WsClient::Options o = opts();
  o.rcvbuf = 4096;
  o.target = "/ws?token=abc";
  o.headers = {{"Authorization", "Bearer t"}, {"Origin", "http://localhost"}};
  WsClient c(server.port(), o);
  c.send_json({{"x", 1}});
  EXPECT_EQ(c.read_json()["x"], 1);
}

TEST_P(Echo, TryHandshakeAndRejection) {
  HttpResponse ok = WsClient::try_handshake(server.port(), opts());
  EXPECT_EQ(ok.status, 101);
  WsClient::Options o = opts();
  o.target = "/reject";
  HttpResponse rejected = WsClient::try_handshake(server.port(), o);
  EXPECT_EQ(rejected.status, 403);
  EXPECT_EQ(rejected.body, "go away");
  EXPECT_EQ(rejected.header("content-length"), "7");
  try {
    WsClient c(server.port(), o);
    ADD_FAILURE() << "rejected handshake did not throw";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("HTTP 403"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("go away"), std::string::npos) << e.what();
  }
}

TEST_P(Echo, HttpRequest) {
  HttpResponse r = switchboard::test::http_request(server.port(), "GET", "/healthz",
                                                   {{"Authorization", "Bearer xyz"}}, {}, tls());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello GET /healthz ");
  EXPECT_EQ(r.headers.at("x-echo-auth"), "Bearer xyz");
  EXPECT_EQ(r.headers.at("content-type"), "text/plain");
  HttpResponse p = switchboard::test::http_request(server.port(), "POST", "/p", {}, "payload", tls());
  EXPECT_EQ(p.body, "hello POST /p payload");
  EXPECT_EQ(switchboard::test::http_get(server.port(), "/g", tls()).status, 200);
}

TEST_P(Echo, ManyClientsAndDestructorsDoNotHang) {
  std::vector<WsClient> clients;
  for (int i = 0; i < 20; ++i) clients.emplace_back(server.port(), opts());
  for (auto& c : clients) c.send_json({{"i", 1}});
  for (auto& c : clients) EXPECT_EQ(c.read_json()["i"], 1);
  clients[0].drop(/*reset=*/true);
  clients[1].close();
  // The rest are dropped by their destructors.
}

INSTANTIATE_TEST_SUITE_P(PlainAndTls, Echo, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? std::string("Tls") : std::string("Plain"); });

}  // namespace

// RedisClusterProcess: a one-master cluster serves every slot from its node; a 3+3 one spreads
// the slots over three masters, and a SIGKILLed master's replica takes over its slots.
TEST(RedisClusterProcess, OneMasterServesEverySlot) {
  switchboard::test::RedisClusterProcess cluster({.masters = 1});
  ASSERT_EQ(cluster.size(), 1u);
  for (int slot : {0, 8000, 16383}) EXPECT_EQ(cluster.master_of(slot), 0u);
  EXPECT_NE(cluster.cli(0, "CLUSTER INFO").find("cluster_slots_assigned:16384"), std::string::npos);
  EXPECT_EQ(cluster.cli(0, "SET a 1"), "OK\n");
  EXPECT_EQ(cluster.cli(0, "CLUSTER KEYSLOT foo"), "12182\n");
}

TEST(RedisClusterProcess, ThreeMastersWithReplicasFollowAFailover) {
  switchboard::test::RedisClusterProcess cluster({.masters = 3, .replicas = 1});
  ASSERT_EQ(cluster.size(), 6u);
  std::set<std::size_t> masters;
  for (int slot : {0, 8000, 16383}) masters.insert(cluster.master_of(slot));
  EXPECT_EQ(masters.size(), 3u);
  // Outside the slot's master, a key is redirected.
  std::size_t other = cluster.master_of(0) == 0 ? 1 : 0;
  EXPECT_NE(cluster.cli(other, "SET foo 1").find("MOVED 12182"), std::string::npos);

  std::size_t killed = cluster.kill_master_of(0);
  EXPECT_FALSE(cluster.running(killed));
  cluster.await_healthy();
  std::size_t promoted = cluster.master_of(0);
  EXPECT_NE(promoted, killed);
  EXPECT_NE(cluster.cli(promoted, "ROLE").find("master"), std::string::npos);
  // Back from its directory, the old master follows the new one.
  cluster.restart(killed);
  cluster.await_healthy();
  EXPECT_EQ(cluster.master_of(0), promoted);
  EXPECT_NE(cluster.cli(killed, "ROLE").find("slave"), std::string::npos);
}

// The Sentinel topology: the sentinels name the master and see its replica; after a SIGKILL of the
// master they name the promoted replica, and the killed server comes back as its replica.
TEST(RedisSentinelProcess, FailsOverAndRestores) {
  using R = switchboard::test::RedisSentinelProcess;
  R topology;
  const std::string ask = std::string("SENTINEL get-master-addr-by-name ") + R::kMasterName;
  auto first = topology.master_port();
  for (auto port : topology.sentinel_ports())
    EXPECT_EQ(R::cli(port, ask), "127.0.0.1\n" + std::to_string(first) + "\n");
  EXPECT_EQ(R::cli(topology.replica_port(), "ROLE").substr(0, 6), "slave\n");
  for (auto port : topology.sentinel_ports())
    EXPECT_NE(topology.sentinels().find("127.0.0.1:" + std::to_string(port)), std::string::npos);

  topology.kill_master();
  EXPECT_NE(topology.master_port(), first);
  EXPECT_EQ(R::cli(topology.master_port(), "ROLE").substr(0, 7), "master\n");
  auto promoted = topology.master_port();
  topology.restore();
  // The killed server is back as the replica; or, when one more failover promoted it meanwhile
  // (a loaded machine), as the master with the other as its replica: the sentinels' word rules.
  EXPECT_EQ(std::set<std::uint16_t>({topology.master_port(), topology.replica_port()}),
            std::set<std::uint16_t>({first, promoted}));
  EXPECT_EQ(R::cli(topology.master_port(), "ROLE").substr(0, 7), "master\n");
  EXPECT_NE(R::cli(topology.replica_port(), "INFO replication").find("master_link_status:up"), std::string::npos);
}
