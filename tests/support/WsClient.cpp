#include "WsClient.h"

#include <algorithm>
#include <cctype>
#include <deque>
#include <optional>
#include <stdexcept>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <openssl/ssl.h>

namespace switchboard::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

namespace {

constexpr std::size_t kClientMessageMax = 16u * 1024u * 1024u;
constexpr std::size_t kHttpBodyLimit = 64u * 1024u * 1024u;
constexpr auto kDrainLimit = std::chrono::seconds(2);

std::string describe(const beast::error_code& ec) {
  return ec.message() + " [" + ec.category().name() + ":" + std::to_string(ec.value()) + "]";
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string abbreviate(std::string_view s, std::size_t max = 300) {
  if (s.size() <= max) return std::string(s);
  return std::string(s.substr(0, max)) + "...(" + std::to_string(s.size()) + " bytes)";
}

template <class Fields>
std::map<std::string, std::string> lowercase_headers(const Fields& fields) {
  std::map<std::string, std::string> out;
  for (const auto& f : fields) {
    std::string value(f.value());
    auto [it, inserted] = out.emplace(lower(f.name_string()), value);
    if (!inserted) it->second += ", " + value;
  }
  return out;
}

template <class Body>
HttpResponse to_http_response(const http::response<Body>& res) {
  HttpResponse out;
  out.status = static_cast<int>(res.result_int());
  out.body = res.body();
  out.headers = lowercase_headers(res.base());
  return out;
}

// Runs ioc until `done` or the time limit. Returns done.
bool run_until(net::io_context& ioc, const bool& done, Clock::time_point end) {
  ioc.restart();
  while (!done && ioc.run_one_until(end) != 0) {
  }
  return done;
}

// After the socket was closed: lets the aborted handlers run (bounded).
void drain(net::io_context& ioc) {
  ioc.restart();
  ioc.run_for(kDrainLimit);
}

std::string endpoint_name(std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

void set_sni(SSL* ssl) {
  // SSL_set_tlsext_host_name is a macro casting its argument to void*.
  if (SSL_set_tlsext_host_name(ssl, const_cast<char*>("localhost")) != 1)
    throw std::runtime_error("WsClient: cannot set SNI");
}

net::ssl::context make_client_ssl_context() {
  net::ssl::context ctx(net::ssl::context::tls_client);
  ctx.set_verify_mode(net::ssl::verify_none);
  return ctx;
}

template <class Stream>
HttpResponse http_exchange(net::io_context& ioc, Stream& stream, std::uint16_t port,
                           http::request<http::string_body>& req, bool head,
                           std::chrono::milliseconds deadline) {
  constexpr bool is_tls = !std::is_same_v<Stream, beast::tcp_stream>;
  const auto end = Clock::now() + deadline;
  const std::string where = endpoint_name(port);
  auto& lowest = beast::get_lowest_layer(stream);
  beast::error_code ec;
  bool done = false;

  auto step = [&](std::string_view what) {
    if (!run_until(ioc, done, end)) {
      beast::error_code ignored;
      lowest.socket().close(ignored);
      drain(ioc);
      throw std::runtime_error("http_request(" + where + "): timed out after " +
                               std::to_string(deadline.count()) + " ms " + std::string(what));
    }
    done = false;
  };
  auto fail = [&](std::string_view what) {
    beast::error_code ignored;
    lowest.socket().close(ignored);
    drain(ioc);
    throw std::runtime_error("http_request(" + where + "): " + std::string(what) + ": " + describe(ec));
  };

  lowest.async_connect(tcp::endpoint(net::ip::address_v4::loopback(), port), [&](beast::error_code e) {
    ec = e;
    done = true;
  });
  step("connecting");
  if (ec) fail("cannot connect");
  lowest.socket().set_option(tcp::no_delay(true), ec);

  if constexpr (is_tls) {
    set_sni(stream.native_handle());
    stream.async_handshake(net::ssl::stream_base::client, [&](beast::error_code e) {
      ec = e;
      done = true;
    });
    step("in the TLS handshake");
    if (ec) fail("TLS handshake failed");
  }

  http::async_write(stream, req, [&](beast::error_code e, std::size_t) {
    ec = e;
    done = true;
  });
  step("sending the request");
  if (ec) fail("cannot send the request");

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kHttpBodyLimit);
  if (head) parser.skip(true);
  http::async_read(stream, buffer, parser, [&](beast::error_code e, std::size_t) {
    ec = e;
    done = true;
  });
  step("waiting for the response");
  if (ec && !parser.is_done() && parser.is_header_done() &&
      (ec == net::ssl::error::stream_truncated || ec == http::error::end_of_stream)) {
    // Body delimited by end of connection and the TLS peer skipped close_notify.
    beast::error_code eof_ec;
    parser.put_eof(eof_ec);
    if (!eof_ec) ec = {};
  }
  if (ec && !parser.is_done()) fail("cannot read the response");

  HttpResponse out = to_http_response(parser.get());
  beast::error_code ignored;
  lowest.socket().shutdown(tcp::socket::shutdown_both, ignored);
  lowest.socket().close(ignored);
  drain(ioc);
  return out;
}

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? std::string() : it->second;
}

HttpResponse http_request(std::uint16_t port, std::string_view method, std::string_view target,
                          const std::map<std::string, std::string>& headers, std::string body, bool tls,
                          std::chrono::milliseconds deadline) {
  http::request<http::string_body> req;
  req.version(11);
  req.method_string(method);
  req.target(target);
  req.set(http::field::host, endpoint_name(port));
  req.set(http::field::user_agent, "switchboard-tests");
  req.set(http::field::connection, "close");
  req.body() = std::move(body);
  req.prepare_payload();  // Content-Length when there is a body or the method expects one
  for (const auto& [name, value] : headers) req.set(name, value);
  const bool head = lower(method) == "head";

  net::io_context ioc;
  if (tls) {
    auto ctx = make_client_ssl_context();
    beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
    return http_exchange(ioc, stream, port, req, head, deadline);
  }
  beast::tcp_stream stream(ioc);
  return http_exchange(ioc, stream, port, req, head, deadline);
}

HttpResponse http_get(std::uint16_t port, std::string_view target, bool tls, std::chrono::milliseconds deadline) {
  return http_request(port, "GET", target, {}, {}, tls, deadline);
}

// ------------------------------------------------------------------------------------------------

using PlainWs = websocket::stream<beast::tcp_stream>;
using TlsWs = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

struct WsClient::Impl {
  enum class State { connecting, open, closed, broken };

  struct HandshakeResult {
    beast::error_code ec;
    HttpResponse response;  // status 0 when no HTTP response was read
  };

  // Declaration order matters: streams are destroyed before the context and the io_context.
  net::io_context ioc;
  std::optional<net::ssl::context> ssl_ctx;
  std::unique_ptr<PlainWs> plain;
  std::unique_ptr<TlsWs> tls;

  std::uint16_t port;
  Options opts;
  std::chrono::milliseconds deadline;
  State state = State::connecting;
  std::string broken_reason;
  HttpResponse hs_response;

  // The single outstanding read (may outlive a quiet_for call; continued by the next read).
  beast::flat_buffer rbuf;
  bool read_pending = false;
  bool read_done = false;
  bool read_was_text = true;
  beast::error_code read_ec;

  std::deque<Frame> backlog;
  std::vector<json> skipped;
  CloseInfo close_info;
  bool got_close_frame = false;
  int pings = 0;
  int pongs = 0;
  std::int64_t next_id = 1;

  Impl(std::uint16_t p, Options o) : port(p), opts(std::move(o)), deadline(opts.deadline) {
    if (opts.tls) {
      ssl_ctx.emplace(make_client_ssl_context());
      tls = std::make_unique<TlsWs>(ioc, *ssl_ctx);
    } else {
      plain = std::make_unique<PlainWs>(ioc);
    }
  }

  template <class F>
  decltype(auto) with_ws(F&& f) {
    if (plain) return f(*plain);
    return f(*tls);
  }

  std::string where() const { return "WsClient(" + endpoint_name(port) + opts.target + ")"; }
  Clock::time_point end_time() const { return Clock::now() + deadline; }

  void close_socket(bool reset = false) {
    with_ws([&](auto& ws) {
      beast::error_code ignored;
      auto& sock = beast::get_lowest_layer(ws).socket();
      if (reset && sock.is_open()) sock.set_option(net::socket_base::linger(true, 0), ignored);
      sock.close(ignored);
    });
  }

  // Closes the socket, lets every outstanding handler finish, and forgets the pending read.
  void abort_io() {
    close_socket();
    drain(ioc);
    read_pending = false;
    read_done = false;
    rbuf.clear();
  }

  [[noreturn]] void fail(const std::string& message) {
    abort_io();
    state = State::broken;
    broken_reason = message;
    throw std::runtime_error(message);
  }

  void wait_or_fail(const bool& done, Clock::time_point end, std::string_view what) {
    if (run_until(ioc, done, end)) return;
    fail(where() + ": timed out after " + std::to_string(deadline.count()) + " ms " + std::string(what));
  }

  void require_usable(std::string_view what) const {
    if (state == State::broken)
      throw std::runtime_error(where() + ": cannot " + std::string(what) +
                               ": the connection failed earlier: " + broken_reason);
    if (state == State::connecting)
      throw std::runtime_error(where() + ": cannot " + std::string(what) + ": not connected");
  }

  std::string describe_close() const {
    if (close_info.closed)
      return "the server closed the connection with code " + std::to_string(close_info.code) + " '" +
             close_info.reason + "'";
    return "the connection was dropped without a close frame (" + close_info.reason + ")";
  }

  [[noreturn]] void throw_closed(std::string_view what) const {
    throw std::runtime_error(where() + ": " + describe_close() + " while " + std::string(what));
  }

  // ---- connection ----

  HandshakeResult handshake() {
    const auto end = end_time();
    HandshakeResult result;
    beast::error_code ec;
    bool done = false;

    auto open_and_connect = [&](auto& ws) {
      auto& sock = beast::get_lowest_layer(ws).socket();
      sock.open(tcp::v4(), ec);
      if (ec) return;
      if (opts.rcvbuf > 0) {
        sock.set_option(net::socket_base::receive_buffer_size(opts.rcvbuf), ec);
        if (ec) return;
      }
      beast::get_lowest_layer(ws).async_connect(tcp::endpoint(net::ip::address_v4::loopback(), port),
                                                [&](beast::error_code e) {
                                                  ec = e;
                                                  done = true;
                                                });
    };
    with_ws(open_and_connect);
    if (ec) fail(where() + ": cannot open socket: " + describe(ec));
    wait_or_fail(done, end, "connecting");
    done = false;
    if (ec) fail(where() + ": cannot connect: " + describe(ec));
    with_ws([&](auto& ws) { beast::get_lowest_layer(ws).socket().set_option(tcp::no_delay(true), ec); });

    if (tls) {
      set_sni(tls->next_layer().native_handle());
      tls->next_layer().async_handshake(net::ssl::stream_base::client, [&](beast::error_code e) {
        ec = e;
        done = true;
      });
      wait_or_fail(done, end, "in the TLS handshake");
      done = false;
      if (ec) fail(where() + ": TLS handshake failed: " + describe(ec));
    }

    websocket::response_type res;
    with_ws([&](auto& ws) {
      ws.read_message_max(kClientMessageMax);
      ws.auto_fragment(false);
      if (opts.deflate) {
        websocket::permessage_deflate deflate;
        deflate.client_enable = true;
        ws.set_option(deflate);
      }
      ws.set_option(websocket::stream_base::decorator(
          [headers = opts.headers](websocket::request_type& req) {
            req.set(http::field::user_agent, "switchboard-tests");
            for (const auto& [name, value] : headers) req.set(name, value);
          }));
      ws.control_callback([this](websocket::frame_type kind, beast::string_view) {
        if (kind == websocket::frame_type::ping) ++pings;
        else if (kind == websocket::frame_type::pong) ++pongs;
        else if (kind == websocket::frame_type::close) got_close_frame = true;
      });
      ws.async_handshake(res, endpoint_name(port), opts.target, [&](beast::error_code e) {
        ec = e;
        done = true;
      });
    });
    wait_or_fail(done, end, "in the WebSocket handshake");
    result.ec = ec;
    if (res.result_int() != 0) result.response = to_http_response(res);
    if (!ec) state = State::open;
    return result;
  }

  // ---- reading ----

  void start_read() {
    if (read_pending || read_done) return;
    read_pending = true;
    with_ws([&](auto& ws) {
      ws.async_read(rbuf, [this, &ws](beast::error_code ec, std::size_t) {
        read_pending = false;
        read_done = true;
        read_ec = ec;
        read_was_text = ws.got_text();
      });
    });
  }

  void record_end(const beast::error_code& ec) {
    if (got_close_frame || ec == websocket::error::closed) {
      const auto& cr = with_ws([](auto& ws) -> const websocket::close_reason& { return ws.reason(); });
      close_info.closed = true;
      close_info.code = cr.code == websocket::close_code::none ? 1005 : static_cast<std::uint16_t>(cr.code);
      close_info.reason.assign(cr.reason.data(), cr.reason.size());
    } else {
      close_info = {false, 0, describe(ec)};
    }
    state = State::closed;
    close_socket();
  }

  // Consumes a completed read: the frame, or nullopt when the connection ended.
  std::optional<Frame> take_read() {
    read_done = false;
    if (!read_ec) {
      Frame f{read_was_text, beast::buffers_to_string(rbuf.data())};
      rbuf.consume(rbuf.size());
      return f;
    }
    rbuf.clear();
    record_end(read_ec);
    return std::nullopt;
  }

  std::optional<Frame> next_wire_frame(Clock::time_point end, std::string_view what) {
    if (state == State::closed) return std::nullopt;
    require_usable(what);
    start_read();
    wait_or_fail(read_done, end, what);
    return take_read();
  }

  std::optional<Frame> next_frame(Clock::time_point end, std::string_view what) {
    if (!backlog.empty()) {
      Frame f = std::move(backlog.front());
      backlog.pop_front();
      return f;
    }
    return next_wire_frame(end, what);
  }

  json to_json(const Frame& f, std::string_view what) const {
    if (!f.text)
      throw std::runtime_error(where() + ": expected a text frame " + std::string(what) + ", got a binary frame of " +
                               std::to_string(f.data.size()) + " bytes");
    try {
      return json::parse(f.data);
    } catch (const json::exception& e) {
      throw std::runtime_error(where() + ": frame is not valid JSON (" + e.what() + "): " + abbreviate(f.data));
    }
  }

  // ---- writing ----

  beast::error_code write(bool text, std::string_view data, Clock::time_point end, std::string_view what) {
    if (state == State::closed) throw_closed(what);
    require_usable(what);
    beast::error_code ec;
    bool done = false;
    with_ws([&](auto& ws) {
      ws.text(text);
      ws.async_write(net::buffer(data.data(), data.size()), [&](beast::error_code e, std::size_t) {
        ec = e;
        done = true;
      });
    });
    wait_or_fail(done, end, what);
    return ec;
  }

  void write_or_throw(bool text, std::string_view data, Clock::time_point end, std::string_view what) {
    auto ec = write(text, data, end, what);
    if (!ec) return;
    // A read left pending by quiet_for() may have seen why: report the server's close if so.
    if (read_done) {
      if (auto f = take_read()) backlog.push_back(std::move(*f));
    }
    if (state == State::closed) throw_closed(what);
    throw std::runtime_error(where() + ": " + std::string(what) + " failed: " + describe(ec));
  }

  ~Impl() {
    try {
      abort_io();  // handlers that refer to this object run now, not after it is gone
    } catch (...) {
    }
  }
};

// ------------------------------------------------------------------------------------------------

WsClient::WsClient(std::uint16_t port, Options opts) : impl_(std::make_unique<Impl>(port, std::move(opts))) {
  auto r = impl_->handshake();
  if (r.ec) {
    std::string msg = impl_->where() + ": WebSocket handshake failed: ";
    if (r.response.status != 0 && r.response.status != 101)
      msg += "server answered HTTP " + std::to_string(r.response.status) + " body: " + abbreviate(r.response.body);
    else
      msg += describe(r.ec);
    impl_->fail(msg);
  }
  impl_->hs_response = std::move(r.response);
}

WsClient::~WsClient() = default;  // ~Impl closes the socket (no close frame) and drains

WsClient::WsClient(WsClient&&) noexcept = default;
WsClient& WsClient::operator=(WsClient&&) noexcept = default;

HttpResponse WsClient::try_handshake(std::uint16_t port, Options opts) {
  Impl impl(port, std::move(opts));
  auto r = impl.handshake();
  if (r.ec && (r.response.status == 0 || r.response.status == 101))
    impl.fail(impl.where() + ": WebSocket handshake failed: " + describe(r.ec));
  impl.abort_io();
  return std::move(r.response);
}

void WsClient::send_text(std::string_view text) {
  impl_->write_or_throw(true, text, impl_->end_time(), "sending a text frame");
}

void WsClient::send_json(const nlohmann::json& j) {
  impl_->write_or_throw(true, j.dump(), impl_->end_time(), "sending a JSON frame");
}

void WsClient::send_binary(std::string_view bytes) {
  impl_->write_or_throw(false, bytes, impl_->end_time(), "sending a binary frame");
}

bool WsClient::try_send_text(std::string_view text) {
  if (impl_->state == Impl::State::closed) return false;
  return !impl_->write(true, text, impl_->end_time(), "sending a text frame");
}

void WsClient::ping(std::string_view payload) {
  auto& impl = *impl_;
  const std::string_view what = "sending a ping";
  if (impl.state == Impl::State::closed) impl.throw_closed(what);
  impl.require_usable(what);
  beast::error_code ec;
  bool done = false;
  const auto ping_len = std::min<std::size_t>(payload.size(), 125);
  websocket::ping_data data(payload.data(), ping_len);
  impl.with_ws([&](auto& ws) {
    ws.async_ping(data, [&](beast::error_code e) {
      ec = e;
      done = true;
    });
  });
  impl.wait_or_fail(done, impl.end_time(), what);
  if (ec) throw std::runtime_error(impl.where() + ": sending a ping failed: " + describe(ec));
}

void WsClient::send_raw_bytes(std::string_view bytes) {
  auto& impl = *impl_;
  const std::string_view what = "sending raw bytes";
  if (impl.state == Impl::State::closed) impl.throw_closed(what);
  impl.require_usable(what);
  beast::error_code ec;
  bool done = false;
  impl.with_ws([&](auto& ws) {
    net::async_write(ws.next_layer(), net::buffer(bytes.data(), bytes.size()),
                     [&](beast::error_code e, std::size_t) {
                       ec = e;
                       done = true;
                     });
  });
  impl.wait_or_fail(done, impl.end_time(), what);
  if (ec) throw std::runtime_error(impl.where() + ": sending raw bytes failed: " + describe(ec));
}

std::string WsClient::encode_frame(std::uint8_t opcode, std::string_view payload, bool fin, bool mask) {
  std::string out;
  out.push_back(static_cast<char>((fin ? 0x80 : 0x00) | (opcode & 0x0f)));
  const std::uint8_t mask_bit = mask ? 0x80 : 0x00;
  const std::uint64_t n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(mask_bit | n));
  } else if (n <= 0xffff) {
    out.push_back(static_cast<char>(mask_bit | 126));
    out.push_back(static_cast<char>((n >> 8) & 0xff));
    out.push_back(static_cast<char>(n & 0xff));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xff));
  }
  static constexpr unsigned char key[4] = {0x12, 0x34, 0x56, 0x78};
  if (mask) out.append(reinterpret_cast<const char*>(key), 4);
  for (std::size_t i = 0; i < payload.size(); ++i) {
    const auto c = static_cast<unsigned char>(payload[i]);
    out.push_back(static_cast<char>(mask ? (c ^ key[i % 4]) : c));
  }
  return out;
}

Frame WsClient::read_frame() {
  const std::string_view what = "waiting for a frame";
  auto f = impl_->next_frame(impl_->end_time(), what);
  if (!f) impl_->throw_closed(what);
  return std::move(*f);
}

std::string WsClient::read_text() {
  Frame f = read_frame();
  if (!f.text)
    throw std::runtime_error(impl_->where() + ": expected a text frame, got a binary frame of " +
                             std::to_string(f.data.size()) + " bytes");
  return std::move(f.data);
}

nlohmann::json WsClient::read_json() {
  Frame f = read_frame();
  return impl_->to_json(f, "");
}

nlohmann::json WsClient::read_until(const std::function<bool(const nlohmann::json&)>& pred) {
  auto& impl = *impl_;
  const auto end = impl.end_time();
  std::size_t seen = 0;
  for (;;) {
    const std::string what =
        "waiting for a frame matching read_until's predicate (" + std::to_string(seen) + " other frames seen)";
    auto f = impl.next_frame(end, what);
    if (!f) impl.throw_closed(what);
    json j = impl.to_json(*f, "in read_until");
    if (pred(j)) return j;
    impl.skipped.push_back(std::move(j));
    ++seen;
  }
}

nlohmann::json WsClient::request(nlohmann::json req) {
  auto& impl = *impl_;
  if (!req.is_object()) throw std::invalid_argument("WsClient::request: the request must be a JSON object");
  if (!req.contains("id")) req["id"] = impl.next_id++;
  const json id = req["id"];
  const auto end = impl.end_time();
  const std::string text = req.dump();
  impl.write_or_throw(true, text, end, "sending request " + abbreviate(text, 200));
  std::size_t others = 0;
  for (;;) {
    const std::string what = "waiting for the reply to " + abbreviate(text, 200) + " (" + std::to_string(others) +
                             " other frames received meanwhile)";
    auto f = impl.next_wire_frame(end, what);
    if (!f) impl.throw_closed(what);
    if (f->text) {
      json j = json::parse(f->data, nullptr, /*allow_exceptions=*/false);
      if (j.is_object() && j.contains("id") && j["id"] == id) return j;
    }
    impl.backlog.push_back(std::move(*f));
    ++others;
  }
}

CloseInfo WsClient::read_until_closed() {
  auto& impl = *impl_;
  impl.backlog.clear();
  const auto end = impl.end_time();
  std::size_t discarded = 0;
  for (;;) {
    const std::string what = "waiting for the server to close the connection (" + std::to_string(discarded) +
                             " frames discarded meanwhile)";
    if (!impl.next_wire_frame(end, what)) return impl.close_info;
    ++discarded;
  }
}

bool WsClient::quiet_for(std::chrono::milliseconds wait) {
  auto& impl = *impl_;
  if (!impl.backlog.empty() || impl.state == Impl::State::closed) return false;
  impl.require_usable("wait for silence");
  impl.start_read();
  if (!run_until(impl.ioc, impl.read_done, Clock::now() + wait)) return true;  // the read stays pending
  if (auto f = impl.take_read()) impl.backlog.push_back(std::move(*f));
  return false;
}

CloseInfo WsClient::close(std::uint16_t code, std::string_view reason) {
  auto& impl = *impl_;
  if (impl.state == Impl::State::closed) return impl.close_info;
  impl.require_usable("close");
  beast::error_code ec;
  bool done = false;
  websocket::close_reason cr(static_cast<websocket::close_code>(code),
                            reason.substr(0, std::min<std::size_t>(reason.size(), 123)));
  impl.with_ws([&](auto& ws) {
    ws.async_close(cr, [&](beast::error_code e) {
      ec = e;
      done = true;
    });
  });
  const auto end = impl.end_time();
  impl.wait_or_fail(done, end, "in the close handshake (no close frame from the server)");
  if (impl.read_pending) impl.wait_or_fail(impl.read_done, end, "finishing the pending read while closing");
  impl.read_done = false;
  impl.rbuf.clear();
  impl.backlog.clear();
  // Success means the server's close frame arrived.
  impl.record_end(ec ? ec : beast::error_code(websocket::error::closed));
  return impl.close_info;
}

void WsClient::drop(bool reset) {
  auto& impl = *impl_;
  if (impl.state == Impl::State::connecting) return;
  impl.close_socket(reset);
  drain(impl.ioc);
  impl.read_pending = false;
  impl.read_done = false;
  impl.rbuf.clear();
  if (impl.state == Impl::State::open) {
    impl.state = Impl::State::closed;
    impl.close_info = {false, 0, "dropped by the client"};
  }
}

bool WsClient::is_open() const { return impl_ && impl_->state == Impl::State::open; }
const std::vector<nlohmann::json>& WsClient::skipped() const { return impl_->skipped; }
void WsClient::clear_skipped() { impl_->skipped.clear(); }
std::size_t WsClient::backlog_size() const { return impl_->backlog.size(); }
const HttpResponse& WsClient::handshake_response() const { return impl_->hs_response; }
int WsClient::pings_received() const { return impl_->pings; }
int WsClient::pongs_received() const { return impl_->pongs; }
void WsClient::set_deadline(std::chrono::milliseconds d) { impl_->deadline = d; }
std::chrono::milliseconds WsClient::deadline() const { return impl_->deadline; }
std::uint16_t WsClient::port() const { return impl_->port; }

}  // namespace switchboard::test
