#pragma once
// One HTTP connection, plain or TLS: reads requests with size limits and a deadline, answers
// them through HttpRoutes or HttpApi, and hands /ws upgrades that pass the authenticator to a
// WebSocketSession, GET /sse to an SseSession and GET /poll to a PollSession (a new one, or the
// one the poll names).
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "http/HttpRoutes.h"
#include "transport/SessionContext.h"

namespace switchboard::server {

class PollSession;

namespace beast = boost::beast;
namespace net = boost::asio;

template <class Stream>
class HttpSession final : public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(Stream&& stream, SessionContext& ctx);
  void run();

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  void start();
  void on_tls_handshake(beast::error_code ec);
  void do_read();
  void on_read(beast::error_code ec, std::size_t bytes);
  // Answers 403 origin_not_allowed to a browser page of an origin the node does not allow.
  void refuse_origin(const HttpRequest& req, std::string_view path);
  // The checks every WebSocket and SSE stream passes besides the origin's (Admission): the
  // caller's identity and place, or nullopt when refused (then counted, logged and answered).
  std::optional<Admission::Admitted> admit(const HttpRequest& req);
  // Like admit, and for a request without a token on a node with --proxy-connect, the
  // application says who the client is: `next` runs with the admitted connection (at once, or
  // once the application answered, on this session's thread); a refusal is answered.
  void admit_then(const HttpRequest& req, std::function<void(Admission::Admitted)> next);
  // Whether the application (--proxy-connect) says who the client of this handshake is.
  bool application_decides(const HttpRequest& req) const;
  // A refused handshake or stream: counted, logged and answered.
  void refused(const HttpRequest& req, const std::string& address, const Admission::Refusal& refusal);
  void upgrade();
  // GET /ws without an upgrade: the admission decision a handshake of this request would get,
  // as JSON (426 upgrade_required when it would be admitted).
  void probe(const HttpRequest& req);
  // GET /sse: a Server-Sent Events stream.
  void open_stream();
  // GET /poll: a poll of a long-polling session (this node's, or relayed to the node that holds
  // it: PollRelay); its answer is written when the session gives it.
  void poll();
  // The poll opens a session on this node: a first poll, or one whose session is no more.
  void open_poll();
  // What writes the poll's answer, on this connection's thread, whichever thread gives it.
  std::function<void(std::string body, std::function<void()> written)> poll_responder();
  // DELETE /poll: the client ends its long-polling session.
  void end_poll();
  // While a poll is held: watches the socket, and calls `abandon` when the client goes away (the
  // poll is abandoned). Stopped when the answer comes.
  void watch_poll(std::function<void()> abandon);
  // What tells `session` that the poll this connection gave it was abandoned.
  std::function<void()> abandoning(const std::shared_ptr<PollSession>& session);
  void await_poll_client();
  void stop_watching_poll();
  // The client's address: the peer's, or with --trust-forwarded-for the last X-Forwarded-For entry.
  std::string client_address(const HttpRequest& req);
  void send(HttpResponse response);
  // Answers with a JSON error and closes the connection after it.
  void refuse(const HttpRequest& req, http::status status, std::string_view code, std::string_view message);
  void on_write(bool keep_alive, beast::error_code ec, std::size_t bytes);
  void do_eof();
  void linger(std::size_t drained);

  Stream stream_;
  SessionContext& ctx_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<HttpResponse> response_;  // kept alive while it is written
  std::function<void()> written_;           // told when response_ is written: a poll's answer, for its session
  std::function<void()> abandon_poll_;      // tells the session of the poll held, while it is watched
  bool watching_poll_ = false;
  bool read_one_ = false;  // a request has been read on this connection
  // The current request's Origin (empty without one) when its route is shared across origins.
  std::optional<std::string> shared_with_;
  std::unique_ptr<std::array<char, 16 * 1024>> linger_buffer_;  // only while lingering
};

using PlainHttpSession = HttpSession<beast::tcp_stream>;
using TlsHttpSession = HttpSession<beast::ssl_stream<beast::tcp_stream>>;

extern template class HttpSession<beast::tcp_stream>;
extern template class HttpSession<beast::ssl_stream<beast::tcp_stream>>;

}  // namespace switchboard::server
