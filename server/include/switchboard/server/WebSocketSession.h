#pragma once
// One client WebSocket, plain or TLS. Everything it does runs on its own strand: reads a frame,
// hands it to the broker, and writes its queue of shared frames one message at a time.
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <memory>

#include "switchboard/server/Connection.h"
#include "switchboard/server/SessionContext.h"
#include "switchboard/server/TokenWatch.h"

namespace switchboard::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;

template <class NextLayer>
class WebSocketSession final : public Connection,
                               public std::enable_shared_from_this<WebSocketSession<NextLayer>> {
 public:
  WebSocketSession(NextLayer&& stream, SessionContext& ctx, cluster::ConnectionId id, auth::Identity identity);
  ~WebSocketSession() override;

  // Completes the upgrade of `request`, then reads frames until the connection ends.
  void run(http::request<http::string_body> request);

  void deliver(protocol::Payload frame) override;
  void reply(std::string text) override;
  void shutdown(std::uint16_t code, std::string reason) override;
  void abort() override;
  void post(std::function<void()> fn) override;
  void watch_token_expiry() override;

 private:
  void on_accept(beast::error_code ec);
  void do_read();
  void on_read(beast::error_code ec, std::size_t bytes);
  void enqueue(protocol::Payload frame);
  void do_write();
  void on_write(beast::error_code ec, std::size_t bytes);
  void begin_close(std::uint16_t code, std::string reason);
  void do_close();
  void finish();

  websocket::stream<NextLayer> ws_;
  SessionContext& ctx_;
  std::shared_ptr<std::atomic<std::size_t>> connections_;  // the node's count, given back on destruction
  beast::flat_buffer buffer_;
  struct Queued {
    protocol::Payload frame;
    std::chrono::steady_clock::time_point at;  // when it was queued, for the delivery latency
  };
  std::deque<Queued> queue_;  // front is in flight while writing_
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool opened_ = false;    // handshake done, broker knows the connection
  bool closing_ = false;   // a close was decided: no more frames are queued
  bool finished_ = false;  // broker told the connection is gone
  websocket::close_reason close_reason_;
  std::unique_ptr<net::steady_timer> close_timer_;  // only for connections being closed
  TokenWatch token_watch_;
};

using PlainWebSocketSession = WebSocketSession<beast::tcp_stream>;
using TlsWebSocketSession = WebSocketSession<beast::ssl_stream<beast::tcp_stream>>;

extern template class WebSocketSession<beast::tcp_stream>;
extern template class WebSocketSession<beast::ssl_stream<beast::tcp_stream>>;

}  // namespace switchboard::server
