#pragma once
// One Server-Sent Events stream (GET /sse), plain or TLS: the way in for clients that cannot
// open a WebSocket (proxies that refuse upgrades). It subscribes its rooms when it starts and
// writes their messages as events, each with an id that says where every room stands
// (protocol::EventId), so that a client reconnecting with Last-Event-ID misses nothing. It reads
// nothing after the request: clients publish, and ask for history and presence, over the HTTP
// API. Everything it does runs on its I/O thread. Documented in PROTOCOL.md ("Server-Sent Events").
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <array>
#include <memory>
#include <unordered_map>

#include "admission/Admission.h"
#include "dispatch/Connection.h"
#include "transport/ConnectionLifecycle.h"
#include "switchboard/protocol/EventId.h"
#include "transport/SessionContext.h"
#include "transport/SseRequest.h"

namespace switchboard::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

template <class Stream>
class SseSession final : public Connection, public std::enable_shared_from_this<SseSession<Stream>> {
 public:
  SseSession(Stream&& stream, SessionContext& ctx, cluster::ConnectionId id, Admission::Admitted admitted);

  // Answers `request` with the stream's head, then subscribes the rooms of `sse`.
  void run(const HttpRequest& request, SseRequest sse);

  using Connection::deliver;
  void deliver(protocol::Payload frame, Clock::time_point at) override;
  void deliver_message(const protocol::Payload& frame, const std::string& room, std::uint64_t offset,
                       std::string_view epoch, Clock::time_point at) override;
  // A stream makes no request of its own: nothing is answered with a reply.
  void reply(std::string text) override;
  // The answers to the stream's subscribes, written as "subscribed" and "unsubscribed" events.
  void subscribed(const nlohmann::json& id, const std::string& room, const protocol::StreamPosition& position,
                  std::optional<bool> recovered) override;
  void unsubscribed(const nlohmann::json& id, const std::string& room, protocol::ErrorCode code,
                    std::string_view message) override;
  // Each through the strand posts_, behind what was handed over before: a close (its close
  // event, then the end of the body), a drop, a task (skipped once the stream is gone).
  void shutdown(std::uint16_t code, std::string reason) override;
  void abort() override;
  void post(std::function<void()> fn) override;
  // "refresh" events before the token expires, then the close with 4001.
  void watch_token_expiry() override;

 private:
  struct RoomState {
    std::string name;
    bool presence = false;
    std::optional<protocol::StreamPosition> since;
    bool active = true;  // false once the node refused or ended it
  };

  void on_head(beast::error_code ec, std::size_t bytes);
  void do_read();
  void on_read(beast::error_code ec, std::size_t bytes);
  // Queues one event: "id: <id>" (when not empty), then "data: <data>".
  void enqueue(std::string_view event_id, std::string_view data);
  void do_write();
  void on_write(beast::error_code ec, std::size_t bytes);
  void arm_keepalive();
  void on_keepalive(beast::error_code ec);
  // A write made no progress for --write-timeout: cuts the stream (counted as 4008).
  void on_write_timeout();
  void begin_close(std::uint16_t code, std::string reason);
  void do_close();
  std::string event_id() const;
  void drop();
  void finish();

  Stream stream_;
  // What other threads hand this stream (messages, closes, the dispatcher's work) goes through this
  // strand, in the order it was handed over; it runs on the stream's I/O thread like the rest.
  net::strand<net::any_io_executor> posts_;
  SessionContext& ctx_;
  ConnectionSlot slot_;  // its place among the node's connections, taken at admission
  std::unique_ptr<http::response<http::empty_body>> head_;
  std::unique_ptr<http::response_serializer<http::empty_body>> head_writer_;
  bool chunked_ = true;  // HTTP/1.1: the events go in chunks; HTTP/1.0: the body ends with the connection
  std::vector<RoomState> rooms_;
  protocol::RoomPositions positions_;  // by the same index: where each room stands (empty epoch: not yet)
  std::unordered_map<std::string, std::size_t> room_index_;  // room name → its index in both
  std::string pending_;  // events queued, not yet written
  std::string sending_;  // events being written
  std::size_t pending_events_ = 0;
  std::size_t sending_events_ = 0;
  bool writing_ = false;
  bool wrote_since_tick_ = false;      // something was written since the last keep-alive tick
  std::uint16_t close_code_ = 0;
  std::string close_reason_;
  net::steady_timer timer_;  // keep-alive ticks, until the stream closes
  std::array<char, 256> read_buffer_{};
  // Opened, closing, finished; the write and close deadlines, the token watch, the slow-consumer
  // rule: the same as a WebSocket's.
  ConnectionLifecycle lifecycle_;
};

using PlainSseSession = SseSession<beast::tcp_stream>;
using TlsSseSession = SseSession<beast::ssl_stream<beast::tcp_stream>>;

extern template class SseSession<beast::tcp_stream>;
extern template class SseSession<beast::ssl_stream<beast::tcp_stream>>;

}  // namespace switchboard::server
