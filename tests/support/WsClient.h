#pragma once
// Test-side WebSocket / HTTP client for integration tests against a real node on 127.0.0.1.
//
// Every blocking call has a deadline and never hangs: operations are asynchronous Beast
// operations on a private io_context, run with a time limit. When the limit passes, the socket
// is closed, outstanding handlers are drained, and std::runtime_error is thrown with a message
// that says what was being waited for. Tests do not need to catch anything: GoogleTest reports
// the exception as a failure.
//
// Threading: a WsClient is used from one thread at a time. Nothing runs in the background; the
// client only touches the network while one of its member functions is executing.
//
// Slow readers: the client reads only while a read_* / request / quiet_for / close call runs.
// A client that stops calling them is a slow reader; the server's frames pile up in the
// kernel buffers (make them small with Options::rcvbuf to reach the server's limits sooner).
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace switchboard::test {

inline constexpr std::chrono::milliseconds kDefaultDeadline{5000};

struct HttpResponse {
  int status = 0;  // 101 for a successful WebSocket upgrade
  std::string body;
  std::map<std::string, std::string> headers;  // names in lowercase; repeated fields joined by ", "

  // Header value by (case-insensitive) name, or "" when absent.
  std::string header(std::string_view name) const;
};

struct CloseInfo {
  bool closed = false;     // true: the server sent a close frame; false: the connection just dropped
  std::uint16_t code = 0;  // close code from the frame (1005 when the frame carried none); 0 if !closed
  std::string reason;      // close reason from the frame; if !closed, a description of the transport error
};

struct Frame {
  bool text = true;  // false: binary frame
  std::string data;
};

// One-shot HTTP/1.1 request to 127.0.0.1:port (plain or TLS; TLS uses SNI "localhost" and does not
// verify the certificate). Sends "Connection: close". Host defaults to 127.0.0.1:port; any header in
// `headers` overrides the defaults. Throws std::runtime_error on connection errors or on timeout;
// any HTTP status (including 4xx/5xx) is returned, not thrown.
HttpResponse http_request(std::uint16_t port, std::string_view method, std::string_view target,
                          const std::map<std::string, std::string>& headers = {}, std::string body = {},
                          bool tls = false, std::chrono::milliseconds deadline = kDefaultDeadline);

// Convenience: GET target.
HttpResponse http_get(std::uint16_t port, std::string_view target, bool tls = false,
                      std::chrono::milliseconds deadline = kDefaultDeadline);

// Connection settings for WsClient (WsClient::Options).
struct WsClientOptions {
  bool tls = false;              // wss: SNI "localhost", certificate not verified
  std::string target = "/ws";    // request target, e.g. "/ws?token=abc"
  std::map<std::string, std::string> headers;  // extra handshake headers (override Host/User-Agent too)
  int rcvbuf = 0;                // if > 0: SO_RCVBUF set before connect (slow-consumer tests)
  bool deflate = false;          // offer permessage-deflate (Beast's own): every message then goes compressed
  std::chrono::milliseconds deadline = kDefaultDeadline;  // per-call deadline for this client
};

class WsClient {
 public:
  using Options = WsClientOptions;

  // Connects to 127.0.0.1:port and completes the WebSocket handshake. Throws std::runtime_error on
  // failure; when the server answered with HTTP, the message includes the status and body.
  explicit WsClient(std::uint16_t port, Options opts = {});
  ~WsClient();  // abrupt: closes TCP without a close frame if still open (call close() for a clean one)

  WsClient(WsClient&&) noexcept;
  WsClient& operator=(WsClient&&) noexcept;
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  // Attempts the handshake and reports the server's HTTP answer instead of throwing on rejection:
  // status 101 on success (the connection is then dropped), else the rejection (status, headers, body).
  // Throws only on connection errors, TLS errors, or timeout.
  static HttpResponse try_handshake(std::uint16_t port, Options opts = {});

  // ---- sending (each waits until the frame is handed to the kernel; throws on error/timeout) ----
  void send_text(std::string_view text);  // one unfragmented frame of any size
  void send_json(const nlohmann::json& j);
  void send_binary(std::string_view bytes);
  // Like send_text, but returns false instead of throwing when the connection is closed/reset
  // (for tests that expect the server to close on this frame, e.g. oversize -> 1009). Still throws
  // on timeout.
  bool try_send_text(std::string_view text);
  void ping(std::string_view payload = {});
  // Writes bytes as they are onto the connection (after TLS), bypassing the WebSocket framing.
  // Use with encode_frame() to send malformed or fragmented frames. Don't interleave it with
  // send_text/send_json in the middle of a fragmented message.
  void send_raw_bytes(std::string_view bytes);
  // Builds one client frame: opcode (0 cont, 1 text, 2 binary, 8 close, 9 ping, 10 pong), payload,
  // FIN bit, masked with a fixed key unless mask=false.
  static std::string encode_frame(std::uint8_t opcode, std::string_view payload, bool fin = true,
                                  bool mask = true);

  // ---- receiving (backlog first, then the wire; each call has the client's deadline) ----
  Frame read_frame();                // next data frame; throws on timeout or if the connection closed
  std::string read_text();           // next frame, must be text
  nlohmann::json read_json();        // next frame, must be text holding valid JSON
  // Reads frames until one satisfies pred and returns it; the others are appended to skipped().
  // The whole call has one deadline.
  nlohmann::json read_until(const std::function<bool(const nlohmann::json&)>& pred);
  // Sends req (a JSON object) with "id" set to a fresh integer unless it already has one, and
  // returns the reply carrying that id. Frames arriving before the reply go to the backlog, in
  // order, and are returned first by the read_* calls. One deadline for the whole call.
  nlohmann::json request(nlohmann::json req);
  // Reads until the server closes the connection (close frame or drop) and reports how; frames
  // before that (and the backlog) are discarded. Throws on timeout.
  CloseInfo read_until_closed();
  // True if no frame arrives within `wait` (for asserting silence; keep waits small, ~200ms).
  // A frame that does arrive is kept in the backlog; a close is remembered for read_until_closed().
  bool quiet_for(std::chrono::milliseconds wait);

  // ---- closing ----
  // Clean close handshake: sends a close frame and waits for the server's; returns what the server
  // answered. If the server already closed, returns that close without sending anything. Throws on
  // timeout.
  CloseInfo close(std::uint16_t code = 1000, std::string_view reason = {});
  // Closes TCP without a close frame. reset=true: SO_LINGER 0, so the server sees a RST.
  void drop(bool reset = false);
  // Does nothing: the client reads only inside read_* calls. A client that never calls read_* is
  // a slow reader. Exists so tests can say what they mean.
  void pause_reading() {}

  // ---- state and settings ----
  bool is_open() const;                       // handshake done, not closed, not dropped, not failed
  const std::vector<nlohmann::json>& skipped() const;  // frames read_until() passed over
  void clear_skipped();
  std::size_t backlog_size() const;           // frames buffered by request()/quiet_for()
  const HttpResponse& handshake_response() const;  // the server's 101 response (headers)
  int pings_received() const;                 // server pings seen (answered automatically while reading)
  int pongs_received() const;
  void set_deadline(std::chrono::milliseconds d);
  std::chrono::milliseconds deadline() const;
  std::uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace switchboard::test
