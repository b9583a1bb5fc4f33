// One WebSocket connection of the load generator (plain ws://, Beast), driven by the single
// io_context of the client process. Writes are queued: Beast allows one async_write at a time.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <cstdint>
#include <deque>
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
  void send(std::shared_ptr<const std::string> frame);
  void send(std::string frame) { send(std::make_shared<const std::string>(std::move(frame))); }
  // A close handshake (1000) once the queued frames are written.
  void close();
  // Drops the TCP connection without a close frame: with `reset`, SO_LINGER 0 makes close()
  // send an RST; otherwise shutdown and close (a FIN, or an RST if unread data is pending).
  // The pending read then ends with operation_aborted.
  void abort(bool reset);

  State state() const { return state_; }
  std::size_t index() const { return index_; }
  // The close code the node sent, 0 if none (yet).
  std::uint16_t close_code() const { return ws_.reason().code; }
  std::size_t queued() const { return queue_.size(); }

  // Bookkeeping the workloads keep per connection.
  bool subscribed = false;
  std::int64_t received = 0;
  std::int64_t last_seq = 0;
  std::int64_t order_errors = 0;

 private:
  void do_read();
  void on_read(const boost::system::error_code& ec, std::size_t bytes);
  void do_write();
  void on_write(const boost::system::error_code& ec, std::size_t bytes);
  void do_close();
  void finish(const boost::system::error_code& ec);

  boost::beast::websocket::stream<boost::asio::ip::tcp::socket> ws_;
  boost::beast::flat_buffer buffer_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  bool writing_ = false;
  bool close_requested_ = false;
  State state_ = State::idle;
  std::size_t index_;
  FrameHandler on_frame_;
  EventHandler on_closed_;
};

}  // namespace switchboard::bench
