#pragma once
// One client WebSocket, plain or TLS. Everything it does runs on its I/O thread. Beast answers the
// handshake; from then on the session owns the connection: it reads the client's frames itself
// (FrameReader: a plain socket is read when it is readable, into its thread's buffer, so that an
// idle connection holds no read buffer nor pending read operation), hands messages to the
// dispatcher, answers pings, and writes its queue of shared frames — server frames are unmasked:
// a 2-10 byte header before the shared text — in one gather write, its control frames in line.
// With permessage-deflate negotiated, the shared text of a long message is its thread's
// compressed copy (PerMessageDeflate.h).
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <memory>
#include <optional>
#include <vector>

#include "admission/Admission.h"
#include "dispatch/Connection.h"
#include "transport/ConnectionLifecycle.h"
#include "transport/FrameReader.h"
#include "transport/IdleWatch.h"
#include "transport/Inbox.h"
#include "transport/SessionContext.h"

namespace switchboard::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;

template <class NextLayer>
class WebSocketSession final : public Connection,
                               private Inbox::Receiver,
                               private IdleWatch::Client,
                               public std::enable_shared_from_this<WebSocketSession<NextLayer>> {
 public:
  WebSocketSession(NextLayer&& stream, SessionContext& ctx, cluster::ConnectionId id, Admission::Admitted admitted);

  // Completes the upgrade of `request`, then reads frames until the connection ends.
  void run(http::request<http::string_body> request);

  using Connection::deliver;
  void deliver(protocol::Payload frame, Clock::time_point at) override;
  void deliver_message(const protocol::Payload& frame, const std::string&, std::uint64_t, std::string_view,
                       Clock::time_point at) override {
    deliver(frame, at);
  }
  void flush() override;
  void reply(std::string text) override;
  void shutdown(std::uint16_t code, std::string reason) override;
  void abort() override;
  void post(std::function<void()> fn) override;
  void watch_token_expiry() override;

 private:
  void on_accept(beast::error_code ec);
  // Reading: a plain socket waits until it is readable, then reads what is there into its thread's
  // buffer; a TLS stream reads into a buffer of its own.
  void do_read();
  void on_readable(beast::error_code ec);
  void on_tls_read(beast::error_code ec, std::size_t bytes);
  // Hands `size` bytes read to the frame reader; false when reading is over.
  bool consume(char* data, std::size_t size);
  bool on_frame(const FrameReader::Frame& frame);
  void enqueue(protocol::Payload frame, Clock::time_point at = Clock::now());
  // A control frame (ping, pong, close) of the session's own, written after what is queued.
  void enqueue_control(std::uint8_t opcode, std::string_view payload);
  // What was handed over through the inbox, on the connection's thread.
  void receive(protocol::Payload frame, Clock::time_point at) override;
  void run(std::function<void()>& task) override;
  // The idle watch's requests.
  void send_ping() override;
  void idle_timed_out() override;
  std::shared_ptr<Inbox::Receiver> as_receiver() {
    return std::shared_ptr<Inbox::Receiver>(this->shared_from_this(), static_cast<Inbox::Receiver*>(this));
  }
  // Writes what is queued once the deliveries under way have had their turn (FlushQueue).
  void schedule_flush();
  // Writes what is queued (a batch of it). `at_once`: a plain socket is written there and then, as
  // far as it takes it (non-blocking), and only the rest, if any, by a write operation — from the
  // flush, where nothing of the session's is under way on the stack.
  void do_write(bool at_once = false);
  void on_write(beast::error_code ec, std::size_t bytes);
  // A write made no progress for --write-timeout: cuts the connection (counted as 4008).
  void on_write_timeout();
  void begin_close(std::uint16_t code, std::string reason);
  // Answers the client's close with `reason` right after the write under way, dropping what
  // waits behind it: the client is done.
  void close_at_once(websocket::close_reason reason);
  void close_socket();  // drops the TCP connection at once
  // Drops the connection and, unless a read under way will, finishes the session.
  void cut();
  // The close handshake is complete: shuts the connection down gracefully, then finishes.
  void end_cleanly();
  // Drops the frames queued and not being written (and counts what is left); how many it dropped.
  std::size_t drop_unwritten();
  bool socket_open();   // false once close_socket() (or the peer) ended the TCP connection
  // Queues the close frame (close_reason_) behind what is left to write.
  void do_close();
  void finish();

  NextLayer stream_;
  // Beast's stream answers the handshake on `stream_` and is gone once it has (its state, 2.6 KiB,
  // is not kept for the life of the connection).
  std::optional<websocket::stream<NextLayer&>> handshake_;
  FrameReader reader_;
  std::unique_ptr<char[]> tls_buffer_;  // a TLS connection's reads (a plain one reads into its thread's)
  bool reading_ = false;      // a read (or a wait until readable) is under way
  bool stop_reading_ = false;  // no more reads: the client's close came, or it broke the protocol
  bool close_queued_ = false;  // the close frame is queued: no data frame may follow it
  bool close_written_ = false;
  bool close_received_ = false;
  net::io_context* ioc_ = nullptr;  // the event loop of the connection's thread
  // What other threads hand this connection (deliveries, closes, the dispatcher's work) goes through
  // its thread's inbox, in the order it was handed over, and runs on the connection's thread.
  Inbox* inbox_ = nullptr;
  SessionContext& ctx_;
  ConnectionSlot slot_;  // its place among the node's connections, taken at admission
  struct Queued {
    protocol::Payload frame;
    Clock::time_point at;  // when it was handed over, for the delivery latency
    std::uint8_t opcode = 1;  // text; binary (a message of binary data); a control frame; | RSV1 when compressed
    std::uint32_t saved = 0;  // compressed: the bytes it saves
  };
  // Frames from head_ on wait or are being written (the first in_flight_ of them, while
  // writing_). Empty, a vector holds no memory: idle connections cost nothing here.
  std::vector<Queued> queue_;
  std::size_t head_ = 0;
  std::size_t in_flight_ = 0;
  std::size_t queued_bytes_ = 0;
  // The write in flight: small frames are copied, headers and all, into one staged buffer (a
  // write of many small messages is then one piece for the kernel, not two per message); a large
  // frame is written from its shared text, with its header staged. The list of pieces (of the
  // staged bytes and of large texts, in order) heads the same block. Both are given back
  // whenever the queue empties: an idle connection keeps no write memory.
  std::unique_ptr<unsigned char[]> staged_;  // not zeroed: every byte written is set first
  std::size_t staged_capacity_ = 0;
  bool writing_ = false;
  bool flush_scheduled_ = false;
  bool in_own_handler_ = false;  // running a request of its own or a function posted to it
  // Work handed to the inbox for this connection and not yet run: while there is any,
  // deliveries go through the inbox too, so that they keep their order.
  std::atomic<std::uint32_t> posted_{0};
  // Frames the queue held when it last emptied: the capacity it starts with next time, so that a
  // stream of rounds allocates the queue once per round instead of growing it from 8.
  std::uint16_t last_round_frames_ = 0;
  websocket::close_reason close_reason_;  // what the close frame says
  // Opened, closing, finished; the write and close deadlines, the token watch, the slow-consumer rule.
  ConnectionLifecycle lifecycle_;
};

// The stream a WebSocket runs on, made from the HTTP session's once the upgrade is accepted. A
// plain connection leaves beast::tcp_stream (its timers, about half a KiB) for the bare socket:
// from the upgrade on, the WebSocket's own timeouts serve. A TLS one keeps its stream.
template <class HttpStream>
struct WebSocketStreamOf {
  using type = HttpStream;
  static type from(HttpStream&& stream) { return std::move(stream); }
};
template <>
struct WebSocketStreamOf<beast::tcp_stream> {
  using type = net::ip::tcp::socket;
  static type from(beast::tcp_stream&& stream) { return stream.release_socket(); }
};

using PlainWebSocketSession = WebSocketSession<net::ip::tcp::socket>;
using TlsWebSocketSession = WebSocketSession<beast::ssl_stream<beast::tcp_stream>>;

extern template class WebSocketSession<net::ip::tcp::socket>;
extern template class WebSocketSession<beast::ssl_stream<beast::tcp_stream>>;

}  // namespace switchboard::server
