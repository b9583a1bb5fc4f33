#include "BenchClient.h"

#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/zlib/inflate_stream.hpp>
#include <cstring>
#include <vector>

namespace switchboard::bench {

namespace net = boost::asio;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;

namespace {
constexpr std::size_t kReadChunk = 256 * 1024;
constexpr std::size_t kMaxMessage = 1 << 20;
}  // namespace

BenchClient::BenchClient(net::io_context& ioc, std::size_t index) : socket_(ioc), index_(index) {}

void BenchClient::open(const tcp::endpoint& endpoint, EventHandler done) {
  state_ = State::connecting;
  socket_.async_connect(endpoint, [self = shared_from_this(), endpoint,
                                   done = std::move(done)](const boost::system::error_code& ec) mutable {
    if (ec) {
      self->state_ = State::closed;
      return done(*self, ec);
    }
    boost::system::error_code ignored;
    self->socket_.set_option(tcp::no_delay(true), ignored);
    // The key needs no randomness here: the node only checks that it is there.
    auto request = std::make_shared<std::string>(
        "GET /ws HTTP/1.1\r\nHost: " + endpoint.address().to_string() + ":" +
        std::to_string(endpoint.port()) +
        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: c3dpdGNoYm9hcmQtYmVuY2g=\r\n"
        "Sec-WebSocket-Version: 13\r\n" +
        std::string(offer_deflate ? "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" : "") +
        "\r\n");
    net::async_write(
        self->socket_, net::buffer(*request),
        [self, request, done = std::move(done)](const boost::system::error_code& ec, std::size_t) mutable {
          if (ec) return self->on_handshake(ec, 0, std::move(done));
          net::async_read_until(
              self->socket_, self->handshake_, "\r\n\r\n",
              [self, done = std::move(done)](const boost::system::error_code& ec, std::size_t n) mutable {
                self->on_handshake(ec, n, std::move(done));
              });
        });
  });
}

void BenchClient::on_handshake(const boost::system::error_code& ec, std::size_t header_bytes,
                               EventHandler done) {
  boost::system::error_code failure = ec;
  auto data = handshake_.data();
  std::string_view head(static_cast<const char*>(data.data()), header_bytes);
  if (!failure && !head.starts_with("HTTP/1.1 101")) failure = websocket::error::upgrade_declined;
  if (failure) {
    state_ = State::closed;
    boost::system::error_code ignored;
    socket_.close(ignored);
    return done(*this, failure);
  }
  std::string first(static_cast<const char*>(data.data()) + header_bytes, data.size() - header_bytes);
  handshake_.consume(handshake_.size());
  socket_.non_blocking(true, failure);
  state_ = State::open;
  done(*this, {});
  if (state_ != State::open && state_ != State::closing) return;
  // Whatever came after the response is the first frames.
  if (parse_frames(first)) do_read();
}

void BenchClient::do_read() {
  socket_.async_wait(
      tcp::socket::wait_read,
      [self = shared_from_this()](const boost::system::error_code& ec) { self->on_readable(ec); });
}

void BenchClient::on_readable(const boost::system::error_code& ec) {
  if (ec) return finish(ec);
  // One buffer for every connection: the client is one thread, and what a read leaves unparsed
  // is copied out before the next connection reads.
  static std::vector<char> shared(kReadChunk);
  for (int reads = 0; reads < 4; ++reads) {
    boost::system::error_code read_ec;
    std::size_t n = socket_.read_some(net::buffer(shared), read_ec);
    if (read_ec == net::error::would_block) break;
    if (read_ec)
      return finish(close_received_ ? boost::system::error_code(websocket::error::closed) : read_ec);
    std::string_view data(shared.data(), n);
    bool more;
    if (partial_.empty()) {
      more = parse_frames(data);
    } else {
      std::string joined = std::move(partial_);
      partial_.clear();
      joined.append(data);
      more = parse_frames(joined);
    }
    if (!more) return;
    if (n < shared.size()) break;
  }
  do_read();
}

bool BenchClient::parse_frames(std::string_view data) {
  for (;;) {
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    const std::size_t have = data.size();
    std::size_t header = 2;
    std::uint64_t size = 0;
    if (have >= 2) {
      size = p[1] & 0x7F;
      if (size == 126) header = 4;
      if (size == 127) header = 10;
    }
    if (have < header || have < 2) {
      partial_.assign(data);
      return true;
    }
    // The node never fragments (a stream may be cut anywhere) and never masks.
    if ((!(p[0] & 0x80) && !stream_mode) || (p[1] & 0x80)) {
      finish(websocket::error::bad_opcode);
      return false;
    }
    if (header == 4) size = (std::uint64_t{p[2]} << 8) | p[3];
    if (header == 10) {
      size = 0;
      for (int i = 0; i < 8; ++i) size = (size << 8) | p[2 + i];
    }
    if (size > kMaxMessage) {
      finish(websocket::error::message_too_big);
      return false;
    }
    if (have < header + size) {
      partial_.assign(data);
      return true;
    }
    const unsigned char opcode = p[0] & 0x0F;
    std::string_view payload = data.substr(header, static_cast<std::size_t>(size));
    if ((p[0] & 0x40) && !inflate(payload)) {  // RSV1: compressed (permessage-deflate)
      finish(websocket::error::bad_reserved_bits);
      return false;
    }
    data.remove_prefix(header + static_cast<std::size_t>(size));
    if (!handle_frame(opcode, payload)) return false;
    // A handler that aborted the connection: the rest of what was read is not delivered.
    if (!socket_.is_open()) {
      finish(net::error::operation_aborted);
      return false;
    }
  }
}

bool BenchClient::inflate(std::string_view& payload) {
  // The node takes no context from one message to the next: a fresh stream for each.
  static boost::beast::zlib::inflate_stream stream;
  static std::vector<char> out(kMaxMessage);
  stream.reset();
  boost::beast::zlib::z_params zs;
  zs.next_out = out.data();
  zs.avail_out = out.size();
  static constexpr unsigned char kTail[4] = {0x00, 0x00, 0xFF, 0xFF};
  for (const std::string_view piece : {payload, std::string_view(reinterpret_cast<const char*>(kTail), 4)}) {
    zs.next_in = piece.data();
    zs.avail_in = piece.size();
    boost::system::error_code ec;
    stream.write(zs, boost::beast::zlib::Flush::sync, ec);
    if (ec == boost::beast::zlib::error::end_of_stream) break;
    if ((ec && ec != boost::beast::zlib::error::need_buffers) || zs.avail_in != 0) return false;
  }
  payload = std::string_view(out.data(), zs.total_out);
  return true;
}

bool BenchClient::handle_frame(unsigned char opcode, std::string_view payload) {
  switch (opcode) {
    case text:
      if (on_frame_) on_frame_(*this, payload);
      return state_ != State::closed;
    case binary:
    case continuation:
      if (!stream_mode) return true;
      if (on_frame_) on_frame_(*this, payload);
      return state_ != State::closed;
    case ping:
      queue_frame(pong, payload);
      if (!write_in_flight_) do_write();
      return true;
    case close_frame: {
      close_received_ = true;
      if (payload.size() >= 2)
        close_code_ = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                                 static_cast<unsigned char>(payload[1]));
      if (!close_requested_) {
        // Answer with the same code, then the node closes the TCP connection.
        close_requested_ = true;
        state_ = State::closing;
        queue_frame(close_frame, payload.substr(0, 2));
        if (!write_in_flight_) do_write();
        return true;  // the read ends when the node closes
      }
      // The answer to our close: done.
      finish(websocket::error::closed);
      return false;
    }
    default:
      return true;  // pongs, and anything else the node would never send
  }
}

void BenchClient::queue_frame(unsigned char opcode, std::string_view payload) {
  unsigned char header[14];
  std::size_t n = 2;
  header[0] = static_cast<unsigned char>(0x80 | opcode);
  if (payload.size() < 126) {
    header[1] = static_cast<unsigned char>(0x80 | payload.size());
  } else if (payload.size() <= 0xFFFF) {
    header[1] = 0x80 | 126;
    header[2] = static_cast<unsigned char>(payload.size() >> 8);
    header[3] = static_cast<unsigned char>(payload.size());
    n = 4;
  } else {
    header[1] = 0x80 | 127;
    for (int i = 0; i < 8; ++i)
      header[2 + i] = static_cast<unsigned char>(std::uint64_t{payload.size()} >> (56 - 8 * i));
    n = 10;
  }
  std::memset(header + n, 0, 4);  // the masking key: zero, so the payload is sent unchanged
  pending_.append(reinterpret_cast<const char*>(header), n + 4);
  pending_.append(payload);
}

void BenchClient::send(std::string_view text_message) {
  if (state_ != State::open || close_requested_) return;
  queue_frame(text, text_message);
  if (!write_in_flight_) do_write();
}

void BenchClient::do_write() {
  if (pending_.empty()) return;
  write_in_flight_ = true;
  writing_.swap(pending_);
  net::async_write(socket_, net::buffer(writing_),
                   [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                     self->on_write(ec, n);
                   });
}

void BenchClient::on_write(const boost::system::error_code& ec, std::size_t) {
  write_in_flight_ = false;
  writing_.clear();
  if (ec) return;  // the pending read fails too and finishes the connection
  if (state_ == State::closed) return;
  do_write();
}

void BenchClient::close() {
  if (state_ != State::open || close_requested_) return;
  close_requested_ = true;
  state_ = State::closing;
  // The pending read ends with websocket::error::closed once the node's close frame arrives.
  queue_frame(close_frame, std::string_view("\x03\xE8", 2));  // 1000
  if (!write_in_flight_) do_write();
}

void BenchClient::abort(bool reset) {
  if (state_ != State::open && state_ != State::closing) return;
  boost::system::error_code ignored;
  if (reset)
    socket_.set_option(net::socket_base::linger(true, 0), ignored);
  else
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

void BenchClient::finish(const boost::system::error_code& ec) {
  if (state_ == State::closed) return;
  state_ = State::closed;
  pending_.clear();
  boost::system::error_code ignored;
  socket_.close(ignored);
  if (on_closed_) on_closed_(*this, ec);
  // The handlers may hold the fleet's bookkeeping, and this connection is done.
  on_frame_ = nullptr;
  on_closed_ = nullptr;
}

std::string BenchClient::close_reason(const boost::system::error_code& ec) const {
  return "code " + std::to_string(close_code_) + " (" + ec.message() + ")";
}

bool BenchClient::closed_cleanly(const boost::system::error_code& ec) const {
  return (ec == websocket::error::closed || ec == net::error::operation_aborted) && close_code_ == 1000;
}

}  // namespace switchboard::bench
