#include "BenchClient.h"

#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket.hpp>

namespace switchboard::bench {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

BenchClient::BenchClient(net::io_context& ioc, std::size_t index) : ws_(ioc), index_(index) {
  ws_.read_message_max(1 << 20);
  // The mask of client frames needs no cryptographic randomness in a benchmark.
  ws_.secure_prng(false);
}

void BenchClient::open(const tcp::endpoint& endpoint, EventHandler done) {
  state_ = State::connecting;
  auto host = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  ws_.next_layer().async_connect(endpoint, [self = shared_from_this(), host,
                                            done = std::move(done)](const beast::error_code& ec) mutable {
    if (ec) {
      self->state_ = State::closed;
      return done(*self, ec);
    }
    beast::error_code ignored;
    self->ws_.next_layer().set_option(tcp::no_delay(true), ignored);
    self->ws_.async_handshake(host, "/ws", [self, done = std::move(done)](const beast::error_code& ec) {
      if (ec) {
        self->state_ = State::closed;
        beast::error_code ignored;
        self->ws_.next_layer().close(ignored);
        return done(*self, ec);
      }
      self->state_ = State::open;
      self->ws_.text(true);
      self->do_read();
      done(*self, ec);
    });
  });
}

void BenchClient::do_read() {
  ws_.async_read(buffer_, beast::bind_front_handler(&BenchClient::on_read, shared_from_this()));
}

void BenchClient::on_read(const beast::error_code& ec, std::size_t) {
  if (ec) return finish(ec);
  auto data = buffer_.cdata();
  if (on_frame_) on_frame_(*this, std::string_view(static_cast<const char*>(data.data()), data.size()));
  buffer_.consume(buffer_.size());
  if (state_ == State::open || state_ == State::closing) do_read();
}

void BenchClient::send(std::shared_ptr<const std::string> frame) {
  if (state_ != State::open || close_requested_) return;
  queue_.push_back(std::move(frame));
  if (!writing_) do_write();
}

void BenchClient::do_write() {
  writing_ = true;
  ws_.async_write(net::buffer(*queue_.front()),
                  beast::bind_front_handler(&BenchClient::on_write, shared_from_this()));
}

void BenchClient::on_write(const beast::error_code& ec, std::size_t) {
  writing_ = false;
  if (ec) return;  // the pending read fails too and finishes the connection
  queue_.pop_front();
  if (!queue_.empty()) return do_write();
  if (close_requested_) do_close();
}

void BenchClient::close() {
  if (state_ != State::open || close_requested_) return;
  close_requested_ = true;
  if (!writing_) do_close();
}

void BenchClient::abort(bool reset) {
  if (state_ != State::open && state_ != State::closing) return;
  auto& socket = ws_.next_layer();
  beast::error_code ignored;
  if (reset)
    socket.set_option(net::socket_base::linger(true, 0), ignored);
  else
    socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

void BenchClient::do_close() {
  state_ = State::closing;
  // The pending read ends with websocket::error::closed once the node's close frame arrives.
  ws_.async_close(websocket::close_code::normal, [self = shared_from_this()](const beast::error_code&) {});
}

void BenchClient::finish(const beast::error_code& ec) {
  if (state_ == State::closed) return;
  state_ = State::closed;
  queue_.clear();
  // After a close handshake Beast tears the TCP connection down itself; otherwise free the socket now.
  if (ec != websocket::error::closed && ec != net::error::operation_aborted) {
    beast::error_code ignored;
    ws_.next_layer().close(ignored);
  }
  if (on_closed_) on_closed_(*this, ec);
  // The handlers may hold the fleet's bookkeeping, and this connection is done.
  on_frame_ = nullptr;
  on_closed_ = nullptr;
}

}  // namespace switchboard::bench
