#pragma once
// Definitions of the HttpSession template. Each stream type is instantiated in its own
// source file (Plain…, Tls…) so that the two heavy instantiations build in parallel.
#include "transport/HttpSession.h"

#include <algorithm>

#include <sys/socket.h>

#include <boost/asio/dispatch.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <cerrno>
#include <charconv>

#include "backend/AppProxy.h"
#include "http/AdminRoutes.h"
#include "http/CrossOrigin.h"
#include "switchboard/cluster/RandomId.h"
#include "switchboard/server/Log.h"
#include "transport/PollSession.h"
#include "transport/SseSession.h"
#include "transport/WebSocketSession.h"

namespace switchboard::server {

namespace {
constexpr std::chrono::seconds kLingerTime{2};
constexpr std::size_t kLingerBytes = 8 * 1024 * 1024;
// Headers get 8 KiB besides room for the largest token accepted (in the target or the
// Authorization header), so that an oversize token is answered 401 bad_token, not 413.
constexpr std::uint32_t kHeaderBytes = 8 * 1024;
}  // namespace

template <class Stream>
HttpSession<Stream>::HttpSession(Stream&& stream, SessionContext& ctx) : stream_(std::move(stream)), ctx_(ctx) {}

template <class Stream>
void HttpSession<Stream>::run() {
  // Run on the connection's thread from the start.
  net::dispatch(stream_.get_executor(), beast::bind_front_handler(&HttpSession::start, this->shared_from_this()));
}

template <class Stream>
void HttpSession<Stream>::start() {
  beast::get_lowest_layer(stream_).expires_after(ctx_.config.handshake_timeout);
  if constexpr (kTls) {
    stream_.async_handshake(net::ssl::stream_base::server,
                            beast::bind_front_handler(&HttpSession::on_tls_handshake, this->shared_from_this()));
  } else {
    do_read();
  }
}

template <class Stream>
void HttpSession<Stream>::on_tls_handshake(beast::error_code ec) {
  if (ec) return log::debug("TLS handshake failed: " + ec.message());
  do_read();
}

template <class Stream>
void HttpSession<Stream>::do_read() {
  parser_.emplace();
  parser_->header_limit(kHeaderBytes + static_cast<std::uint32_t>(ctx_.config.jwt_max_token_bytes));
  parser_->body_limit(ctx_.config.max_message_size);  // the HTTP API's bodies are messages
  beast::get_lowest_layer(stream_).expires_after(ctx_.config.handshake_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&HttpSession::on_read, this->shared_from_this()));
}

template <class Stream>
void HttpSession<Stream>::on_read(beast::error_code ec, std::size_t) {
  shared_with_.reset();
  if (ec == http::error::end_of_stream) return do_eof();
  if (ec) {
    if (ec == http::error::header_limit || ec == http::error::body_limit) {
      HttpRequest req;  // the request could not be read whole: answer on its behalf, and close,
      req.version(11);  // for the rest of it is still on the wire
      ctx_.metrics.count_http_refused("unread", "too_large");
      return refuse(req, http::status::payload_too_large, "too_large", "request too large");
    }
    // A connection's first request that is not HTTP, or HTTP the parser cannot read (a bad
    // request line, a bad header or length): answered 400 and closed. A timeout, a reset or a
    // request cut short has no one to answer; nor has what follows an answered request on a
    // kept-alive connection (a stray blank line some clients send after a body): closed as before,
    // for its client to retry on a new connection rather than take a 400 for its next request.
    if (!read_one_ && ec.category() == http::make_error_code(http::error::bad_method).category() &&
        ec != http::error::partial_message && ec != http::error::short_read && ec != http::error::bad_alloc) {
      HttpRequest req;
      req.version(11);
      ctx_.metrics.count_http_refused("unread", "bad_request");
      return refuse(req, http::status::bad_request, "bad_request", "a request the node cannot read: " + ec.message());
    }
    return;
  }
  ++ctx_.metrics.http_requests;
  read_one_ = true;
  const HttpRequest& req = parser_->get();
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  // One check of the browser's origin for every route, before anything is done for it.
  if (!ctx_.origins.allows(req[http::field::origin], req[http::field::host])) return refuse_origin(req, path);
  // Answers of the routes that pages of other origins may use say which origin may read them.
  if (CrossOrigin::shared(path)) shared_with_ = std::string(req[http::field::origin]);
  if (req.method() == http::verb::options && CrossOrigin::preflighted(path))
    return send(CrossOrigin::preflight(req, path));
  if (websocket::is_upgrade(req)) {
    if (path != "/ws")
      return send(HttpRoutes::json_error(req, http::status::not_found, "not_found", "WebSocket endpoint is /ws"));
    if (auto malformed = Admission::malformed_upgrade(req)) return refused(req, client_address(req), *malformed);
    return upgrade();
  }
  if (req.method() == http::verb::get && path == "/sse") return open_stream();
  if (req.method() == http::verb::get && path == "/poll") return poll();
  if (req.method() == http::verb::delete_ && path == "/poll") return end_poll();
  if ((req.method() == http::verb::get || req.method() == http::verb::head) && path == "/ws") return probe(req);
  if (AdminRoutes::gathers(req)) {
    // The dashboard's stats wait for the other nodes' answers: back to this connection's thread to write.
    return ctx_.routes.admin().stats_of_every_node(req, ctx_.routes.draining(), [self = this->shared_from_this()](HttpResponse res) {
      net::post(self->stream_.get_executor(), [self, res = std::move(res)]() mutable { self->send(std::move(res)); });
    });
  }
  if (HttpApi::handles(target)) {
    // Answered when the broker is done, possibly on another thread: back to this connection's thread to write.
    return ctx_.api.handle(req, client_address(req), [self = this->shared_from_this()](HttpResponse res) {
      net::post(self->stream_.get_executor(),
                [self, res = std::move(res)]() mutable { self->send(std::move(res)); });
    });
  }
  send(ctx_.routes.handle(req));
}

template <class Stream>
void HttpSession<Stream>::refuse_origin(const HttpRequest& req, std::string_view path) {
  std::string_view route = CrossOrigin::route(path);
  ctx_.metrics.count_http_refused(route, "origin_not_allowed");
  // Refused WebSocket handshakes and streams are counted and logged with the node's other refused handshakes too.
  bool upgrading = websocket::is_upgrade(req);
  bool handshake = upgrading || (req.method() == http::verb::get && (route == "sse" || route == "poll"));
  if (handshake) {
    ctx_.metrics.count_handshake_rejected("origin_not_allowed");
    ctx_.refusals.refused(upgrading ? "WebSocket handshake" : "stream", client_address(req), req[http::field::origin],
                          403, "origin_not_allowed");
  }
  auto res = HttpRoutes::json_error(req, http::status::forbidden, "origin_not_allowed",
                                    "this origin may not use the node; see --allowed-origins");
  // A browser cannot read why its WebSocket was refused: it may ask GET /ws, whose answer, this
  // refusal included, the page may read.
  bool asks_why = !upgrading && route == "ws" && (req.method() == http::verb::get || req.method() == http::verb::head);
  if (asks_why) CrossOrigin::allow(req[http::field::origin], res);
  res.set(http::field::vary, "Origin");
  res.keep_alive(false);
  send(std::move(res));
}

template <class Stream>
void HttpSession<Stream>::probe(const HttpRequest& req) {
  // What a handshake of this request would be told, without taking a place among the connections:
  // the reason a browser's WebSocket API hides.
  // Without a token on a node with --proxy-connect the application decides at the handshake: not
  // asked here (only the node's own checks are).
  bool app_decides = application_decides(req);
  if (auto refusal = ctx_.admission().probe(req, client_address(req), ctx_.routes.draining(), !app_decides))
    return send(HttpRoutes::json_error(req, refusal->status, refusal->code, refusal->message));
  send(HttpRoutes::json_error(req, http::status::upgrade_required, "upgrade_required",
                              "GET /ws with a WebSocket upgrade; a handshake of this request would be admitted"));
}

template <class Stream>
std::optional<Admission::Admitted> HttpSession<Stream>::admit(const HttpRequest& req) {
  std::string remote_address = client_address(req);
  auto result = ctx_.admission().admit(req, remote_address, ctx_.routes.draining());
  if (auto* admitted = std::get_if<Admission::Admitted>(&result)) return std::move(*admitted);
  refused(req, remote_address, std::get<Admission::Refusal>(result));
  return std::nullopt;
}

template <class Stream>
void HttpSession<Stream>::refused(const HttpRequest& req, const std::string& address, const Admission::Refusal& refusal) {
  ctx_.metrics.count_handshake_rejected(refusal.code);
  std::string_view path = req.target().substr(0, req.target().find('?'));
  ctx_.refusals.refused(websocket::is_upgrade(req) ? "WebSocket handshake" : path == "/poll" ? "poll" : "stream", address,
                        req[http::field::origin], static_cast<unsigned>(refusal.status), refusal.code);
  refuse(req, refusal.status, refusal.code, refusal.message);
}

template <class Stream>
void HttpSession<Stream>::admit_then(const HttpRequest& req, std::function<void(Admission::Admitted)> next) {
  AppProxy* proxy = ctx_.dispatcher.app_proxy();
  if (!application_decides(req)) {
    if (auto admitted = admit(req)) next(std::move(*admitted));
    return;
  }
  // No token: the application says who the client is, from what its browser sent.
  std::string address = client_address(req);
  auto reserved = ctx_.admission().reserve(address, ctx_.routes.draining());
  if (auto* refusal = std::get_if<Admission::Refusal>(&reserved)) return refused(req, address, *refusal);
  auto slot = std::make_shared<ConnectionSlot>(std::get<ConnectionSlot>(std::move(reserved)));
  AppProxy::ConnectRequest request;
  std::string_view path = req.target().substr(0, req.target().find('?'));
  request.transport = websocket::is_upgrade(req) ? "websocket" : path == "/poll" ? "poll" : "sse";
  request.remote = address;
  request.origin = std::string(req[http::field::origin]);
  std::string_view target = req.target();
  // The query as the client sent it, but a poll's session id and position: the session's
  // credential is not the application's to see.
  if (auto q = target.find('?'); q != std::string_view::npos) {
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
      std::string_view pair = rest.substr(0, rest.find('&'));
      rest.remove_prefix(std::min(rest.size(), pair.size() + 1));
      if (pair.starts_with("session=") || pair.starts_with("ack=")) continue;
      request.query.append(request.query.empty() ? "" : "&").append(pair);
    }
  }
  for (const auto& name : proxy->connect_headers()) {
    // A header given on several lines is one value (a Cookie's split by a proxy in front joined back).
    std::string value;
    for (auto [it, end] = req.equal_range(name); it != end; ++it)
      value.append(value.empty() ? "" : name == "cookie" ? "; " : ", ").append(it->value());
    if (req.find(name) != req.end()) request.headers.emplace_back(name, std::move(value));
  }
  proxy->connect(request, [self = this->shared_from_this(), slot, address, next = std::move(next)](AppProxy::Answer answer) mutable {
    // Back on this session's thread: the request (still in the parser) is answered or upgraded there.
    net::post(self->stream_.get_executor(), [self, slot, address = std::move(address), next = std::move(next),
                                             answer = std::move(answer)]() mutable {
      // The wait for the application is not the client's: its answer, or the refusal, has the
      // handshake's time again to be written.
      beast::get_lowest_layer(self->stream_).expires_after(self->ctx_.config.handshake_timeout);
      const HttpRequest& req = self->parser_->get();
      using Verdict = AppProxy::Answer::Verdict;
      if (self->ctx_.routes.draining())
        return self->refused(req, address, {http::status::service_unavailable, "draining",
                                            "the node is shutting down; connect again"});
      if (answer.verdict == Verdict::denied)
        return self->refused(req, address, {static_cast<http::status>(answer.status), "denied",
                                            answer.message.empty() ? "refused by the application" : answer.message});
      if (answer.verdict == Verdict::unavailable)
        return self->refused(req, address, {http::status::service_unavailable, "unavailable",
                                            "the application did not answer; retry later"});
      auto accepted = self->ctx_.admission().accept(std::move(answer.identity), std::move(*slot));
      if (auto* refusal = std::get_if<Admission::Refusal>(&accepted)) return self->refused(req, address, *refusal);
      next(std::get<Admission::Admitted>(std::move(accepted)));
    });
  });
}

template <class Stream>
bool HttpSession<Stream>::application_decides(const HttpRequest& req) const {
  AppProxy* proxy = ctx_.dispatcher.app_proxy();
  // A token is verified as a JWT where the node has keys; without keys, every client is the application's.
  return proxy && proxy->wants_connect() && (!ctx_.config.jwt_enabled() || !Admission::has_token(req));
}

template <class Stream>
void HttpSession<Stream>::upgrade() {
  admit_then(parser_->get(), [this](Admission::Admitted admitted) {
    auto id = ctx_.next_connection_id++;
    using Upgraded = WebSocketStreamOf<Stream>;
    std::make_shared<WebSocketSession<typename Upgraded::type>>(Upgraded::from(std::move(stream_)), ctx_, id,
                                                                std::move(admitted))
        ->run(parser_->release());
  });
}

template <class Stream>
void HttpSession<Stream>::open_stream() {
  const HttpRequest& req = parser_->get();
  auto sse = SseRequest::parse(req.target(), req["Last-Event-ID"]);
  if (auto* error = std::get_if<std::string>(&sse)) return refuse(req, http::status::bad_request, "bad_request", *error);
  admit_then(req, [this, sse = std::get<SseRequest>(std::move(sse))](Admission::Admitted admitted) mutable {
    auto id = ctx_.next_connection_id++;
    std::make_shared<SseSession<Stream>>(std::move(stream_), ctx_, id, std::move(admitted))
        ->run(parser_->get(), std::move(sse));
  });
}

template <class Stream>
void HttpSession<Stream>::poll() {
  const HttpRequest& req = parser_->get();
  std::string_view target = req.target();
  std::optional<std::uint64_t> ack;
  if (auto text = HttpRoutes::query_parameter(target, "ack")) {
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
    if (ec != std::errc() || end != text->data() + text->size() || text->empty())
      return refuse(req, http::status::bad_request, "bad_request", "ack is the next of an answer: an integer >= 0");
    ack = n;
  }
  if (auto id = HttpRoutes::query_parameter(target, "session"); id && !id->empty()) {
    // A session this node holds takes the poll, whatever HTTP connection it comes on.
    if (auto session = ctx_.polls.find(*id)) {
      session->take({ack, poll_responder(), false, this});
      return watch_poll(abandoning(session));
    }
    // One another node holds: the poll is relayed there; if that node does not have it (or is
    // gone), a session opens here, as for a first poll.
    if (auto holder = ctx_.relay->holder(*id)) {
      auto ref = ctx_.relay->relay(stream_.get_executor(), *holder, std::string(*id), ack, poll_responder(),
                                   [self = this->shared_from_this()] {
                                     net::post(self->stream_.get_executor(), [self] {
                                       // Not when the client went away meanwhile.
                                       if (!self->watching_poll_) return;
                                       self->stop_watching_poll();
                                       self->open_poll();
                                     });
                                   });
      // None: the node relays too many polls already; the poll opens a session here.
      if (ref) return watch_poll([relay = ctx_.relay, ref = *ref] { relay->abandon(ref); });
    }
  }
  open_poll();
}

template <class Stream>
void HttpSession<Stream>::open_poll() {
  const HttpRequest& req = parser_->get();
  // None (a first poll; the session ended): a new session, resuming from the poll's last event
  // id as an SSE stream does.
  auto rooms = SseRequest::parse(req.target(), req["Last-Event-ID"]);
  if (auto* error = std::get_if<std::string>(&rooms)) return refuse(req, http::status::bad_request, "bad_request", *error);
  admit_then(req, [this, request = std::get<SseRequest>(std::move(rooms))](Admission::Admitted admitted) mutable {
    auto id = ctx_.next_connection_id++;
    // Its rooms' subscribed events answer the first poll soon; without rooms, it is answered at once.
    bool at_once = request.rooms.empty();
    auto session = std::make_shared<PollSession>(stream_.get_executor(), ctx_, id, std::move(admitted),
                                                 ctx_.relay->new_session_id());
    session->start(std::move(request), {std::nullopt, poll_responder(), at_once, this});
    watch_poll(abandoning(session));
  });
}

template <class Stream>
std::function<void(std::string body, std::function<void()> written)> HttpSession<Stream>::poll_responder() {
  const HttpRequest& req = parser_->get();
  // The answer comes when the session gives it, on the session's thread (or the control
  // channel's, relayed): back to this connection's thread to write it.
  return [self = this->shared_from_this(), version = req.version(), keep_alive = req.keep_alive()](
             std::string body, std::function<void()> written) {
    net::post(self->stream_.get_executor(), [self, version, keep_alive, body = std::move(body),
                                             written = std::move(written)]() mutable {
      self->stop_watching_poll();
      HttpResponse res{http::status::ok, version};
      res.set(http::field::server, "switchboard");
      res.set(http::field::content_type, "application/json");
      res.set(http::field::cache_control, "no-store");
      res.keep_alive(keep_alive);
      res.body() = std::move(body);
      res.prepare_payload();
      // The read's deadline passed long ago for a held poll: the answer gets a write's.
      beast::get_lowest_layer(self->stream_).expires_after(self->ctx_.config.write_timeout);
      self->written_ = std::move(written);
      self->send(std::move(res));
    });
  };
}

template <class Stream>
std::function<void()> HttpSession<Stream>::abandoning(const std::shared_ptr<PollSession>& session) {
  return [session = std::weak_ptr<PollSession>(session), from = static_cast<const void*>(this)] {
    if (auto held = session.lock()) held->abandon(from);
  };
}

template <class Stream>
void HttpSession<Stream>::watch_poll(std::function<void()> abandon) {
  abandon_poll_ = std::move(abandon);
  watching_poll_ = true;
  await_poll_client();
}

template <class Stream>
void HttpSession<Stream>::await_poll_client() {
  // Readable while the poll is held: the client went away (end of stream, reset), or sent its
  // next request early. Waiting reads nothing: a TLS stream's state is left alone.
  beast::get_lowest_layer(stream_).socket().async_wait(
      net::socket_base::wait_read, [self = this->shared_from_this()](beast::error_code ec) {
        if (ec || !self->watching_poll_) return;
        char byte;
        auto n = ::recv(beast::get_lowest_layer(self->stream_).socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return self->await_poll_client();
        if (n > 0) return;  // a request (or TLS bytes): read once the answer is written
        // Gone: the session's grace starts now rather than when the poll would have timed out.
        self->watching_poll_ = false;
        if (auto abandon = std::exchange(self->abandon_poll_, {})) abandon();
      });
}

template <class Stream>
void HttpSession<Stream>::stop_watching_poll() {
  if (!watching_poll_) return;
  watching_poll_ = false;
  abandon_poll_ = {};
  beast::error_code ec;
  beast::get_lowest_layer(stream_).socket().cancel(ec);  // only the wait is under way on it
}

template <class Stream>
void HttpSession<Stream>::end_poll() {
  const HttpRequest& req = parser_->get();
  // The session id is the client's secret: whoever has it may end the session. An id no node
  // knows (ended already) is answered alike.
  if (auto id = HttpRoutes::query_parameter(req.target(), "session"); id && !id->empty()) {
    if (auto session = ctx_.polls.find(*id)) session->end();
    else if (auto holder = ctx_.relay->holder(*id)) ctx_.relay->end(*holder, std::string(*id));
  }
  HttpResponse res{http::status::no_content, req.version()};
  res.set(http::field::server, "switchboard");
  res.keep_alive(req.keep_alive());
  send(std::move(res));
}

template <class Stream>
std::string HttpSession<Stream>::client_address(const HttpRequest& req) {
  if (ctx_.config.trust_forwarded_for) {
    // The proxy in front appends the address it saw — to the list, or as a header line of its
    // own (HAProxy): the last entry of the last line is the one it vouches for.
    std::string_view forwarded;
    for (auto [it, end] = req.equal_range("X-Forwarded-For"); it != end; ++it) forwarded = it->value();
    auto comma = forwarded.rfind(',');
    std::string_view last = comma == std::string_view::npos ? forwarded : forwarded.substr(comma + 1);
    while (!last.empty() && last.front() == ' ') last.remove_prefix(1);
    while (!last.empty() && last.back() == ' ') last.remove_suffix(1);
    if (!last.empty()) return std::string(last);
  }
  beast::error_code ec;
  auto remote = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
  return ec ? std::string() : remote.address().to_string();
}

template <class Stream>
void HttpSession<Stream>::send(HttpResponse response) {
  if (shared_with_) CrossOrigin::allow(*shared_with_, response);
  response_ = std::make_shared<HttpResponse>(std::move(response));
  bool keep_alive = response_->keep_alive();
  http::async_write(stream_, *response_,
                    beast::bind_front_handler(&HttpSession::on_write, this->shared_from_this(), keep_alive));
}

template <class Stream>
void HttpSession<Stream>::refuse(const HttpRequest& req, http::status status, std::string_view code,
                                 std::string_view message) {
  auto res = HttpRoutes::json_error(req, status, code, message);
  // A WebSocket version the node does not speak: the answer names the one it does (RFC 6455 4.4).
  if (status == http::status::upgrade_required && websocket::is_upgrade(req))
    res.set(http::field::sec_websocket_version, "13");
  res.keep_alive(false);
  send(std::move(res));
}

template <class Stream>
void HttpSession<Stream>::on_write(bool keep_alive, beast::error_code ec, std::size_t) {
  response_.reset();
  if (auto written = std::exchange(written_, nullptr)) written();
  if (ec) return;
  if (!keep_alive) return do_eof();
  do_read();
}

template <class Stream>
void HttpSession<Stream>::do_eof() {
  if constexpr (kTls) {
    beast::get_lowest_layer(stream_).expires_after(ctx_.config.handshake_timeout);
    stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
  } else {
    beast::error_code ec;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
    // Lingering close: closing with unread request bytes (the rest of a refused request) would
    // make the kernel send a reset, which can destroy the answer before the client reads it.
    // Read and drop what still comes, for a bounded time and amount, until the client closes.
    beast::get_lowest_layer(stream_).expires_after(kLingerTime);
    linger(0);
  }
}

template <class Stream>
void HttpSession<Stream>::linger(std::size_t drained) {
  if constexpr (!kTls) {
    if (!linger_buffer_) linger_buffer_ = std::make_unique<std::array<char, 16 * 1024>>();
    stream_.async_read_some(net::buffer(*linger_buffer_),
                            [self = this->shared_from_this(), drained](beast::error_code ec, std::size_t n) {
                              if (!ec && drained + n < kLingerBytes) self->linger(drained + n);
                            });
  }
}

}  // namespace switchboard::server
