// One WebSocket connection of the load generator (plain ws://), driven by the single io_context
// of the client process. It speaks the protocol itself on a bare socket: the upgrade request,
// then frames parsed straight out of large reads into a buffer all connections share (every
// message a read holds is handled in one go; only a frame cut in two is kept per connection),
// and writes of everything queued at once. So the client costs far less per delivery than
// the node does, and the figures measure the node rather than the client.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/streambuf.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace switchboard::bench {

class BenchClient : public std::enable_shared_from_this<BenchClient> {
 public:
  enum class State { idle, connecting, open, closing, closed };
  using FrameHandler = std::function<void(BenchClient&, std::string_view)>;
  using EventHandler = std::function<void(BenchClient&, const boost::system::error_code&)>;

  BenchClient(boost::asio::io_context& ioc, std::size_t index);

  // Called for every text message the node sends, in order; the view dies when the handler returns.
  void on_frame(FrameHandler handler) { on_frame_ = std::move(handler); }
  // Called once when an open connection ends: the error says why (websocket::error::closed when
  // the node closed, operation_aborted after our own close(); close_code() is what the node sent).
  void on_closed(EventHandler handler) { on_closed_ = std::move(handler); }

  // TCP connect and WebSocket handshake to GET /ws; `done` gets the outcome. Reading starts on success.
  void open(const boost::asio::ip::tcp::endpoint& endpoint, EventHandler done);
  // Queues a text message; everything queued goes out in the next write.
  void send(std::string_view text);
  // A close handshake (1000) once the queued frames are written.
  void close();
  // Drops the TCP connection without a close frame: with `reset`, SO_LINGER 0 makes close()
  // send an RST; otherwise shutdown and close (a FIN, or an RST if unread data is pending).
  // The pending read then ends with operation_aborted.
  void abort(bool reset);

  State state() const { return state_; }
  std::size_t index() const { return index_; }
  // The close code the node sent, 0 if none (yet).
  std::uint16_t close_code() const { return close_code_; }
  // "code <close code> (<error>)": how the connection ended, for an error report.
  std::string close_reason(const boost::system::error_code& ec) const;
  // Ended by the close handshake with 1000: `ec` of on_closed is websocket::error::closed, or
  // operation_aborted once our own close has completed the pending read.
  bool closed_cleanly(const boost::system::error_code& ec) const;
  // Bytes queued and not yet written.
  std::size_t queued() const { return pending_.size(); }

  // With --deflate: every connection offers permessage-deflate, and inflates what the node sends
  // compressed (on the client's one thread). The client itself sends uncompressed.
  static inline bool offer_deflate = false;

  // Bookkeeping the workloads keep per connection.
  bool subscribed = false;
  std::int64_t received = 0;
  std::int64_t last_seq = 0;
  std::int64_t order_errors = 0;
  // With --broker nats: the frames are pieces of a byte stream (the NATS protocol), so text,
  // binary and continuation frames, final or not, all go to on_frame as they come.
  bool stream_mode = false;
  // With --broker nats: the start of a protocol line or message that a frame cut off, and
  // whether CONNECT has gone out (after the server's INFO).
  std::string nats_rest;
  bool nats_connected = false;

 private:
  enum Opcode : unsigned char {
    continuation = 0x0,
    text = 0x1,
    binary = 0x2,
    close_frame = 0x8,
    ping = 0x9,
    pong = 0xA
  };

  void on_handshake(const boost::system::error_code& ec, std::size_t header_bytes, EventHandler done);
  void do_read();
  void on_readable(const boost::system::error_code& ec);
  // Handles every whole frame of `data`, keeps a cut one in partial_; false when the connection ended.
  bool parse_frames(std::string_view data);
  bool handle_frame(unsigned char opcode, std::string_view payload);
  // A compressed message's payload, inflated into a buffer of the client's; false when it does not inflate.
  static bool inflate(std::string_view& payload);
  // Appends a masked frame (mask key 0: the payload goes as it is) to the pending bytes.
  void queue_frame(unsigned char opcode, std::string_view payload);
  void do_write();
  void on_write(const boost::system::error_code& ec, std::size_t bytes);
  void finish(const boost::system::error_code& ec);

  boost::asio::ip::tcp::socket socket_;
  boost::asio::streambuf handshake_;  // the upgrade response, while it is read
  std::string partial_;               // the start of a frame whose end has not come yet
  std::string pending_;               // framed bytes waiting for the next write
  std::string writing_;               // the bytes of the write in flight
  bool write_in_flight_ = false;
  bool close_requested_ = false;  // our close frame is queued or sent
  bool close_received_ = false;
  std::uint16_t close_code_ = 0;
  State state_ = State::idle;
  std::size_t index_;
  FrameHandler on_frame_;
  EventHandler on_closed_;
};

}  // namespace switchboard::bench
