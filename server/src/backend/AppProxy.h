#pragma once
// The proxy to the application: a handshake without a token (--proxy-connect) is POSTed to the
// application's backend, which says who the client is (user, info, room grants, expiry) from its
// cookies and headers, or refuses it; a client's subscribe (--proxy-subscribe) or publish
// (--proxy-publish), in the rooms the route names, is first POSTed to it too, and it allows it,
// refuses it with a message (the client gets `forbidden`), or — for a publish — allows it with
// other data (moderation, enrichment, storing before the fan-out). A backend that
// fails, answers late (--proxy-timeout-ms) or is busy (--proxy-concurrency) makes the client's
// request `unavailable`. The requests are signed as the webhooks are (X-Switchboard-Timestamp,
// X-Switchboard-Signature: v1=HMAC-SHA256 of "timestamp.body" with --proxy-secret).
//
// Asynchronous: each route has an HttpClient on a strand of I/O thread 0, and the answer is
// handed to the caller's handler there; no I/O thread ever waits for the application.
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/HttpClient.h"
#include "backend/RoomPatterns.h"
#include "observability/LogBudget.h"
#include "observability/Metrics.h"
#include "switchboard/auth/Identity.h"
#include "switchboard/cluster/ConnectionId.h"
#include "switchboard/server/Config.h"

namespace switchboard::server {

class AppProxy {
 public:
  enum class Route { subscribe, publish, connect };
  static constexpr std::size_t kRoutes = 3;
  struct Answer {
    enum class Verdict { allowed, denied, unavailable };
    Verdict verdict = Verdict::unavailable;
    std::string message;              // denied: the application's message (may be empty)
    std::optional<std::string> data;  // an allowed publish's replacement data, JSON text
    auth::Identity identity;          // an allowed connect's: who the client is
    unsigned status = 403;            // a denied connect's HTTP status (401 or 403)
  };
  // What a handshake without a token shows the application.
  struct ConnectRequest {
    std::string transport;  // "websocket", "sse" or "poll"
    std::string remote;     // the client's address
    std::string origin;     // its Origin header, when it sent one
    std::string query;      // the request's query, without the "?"
    std::vector<std::pair<std::string, std::string>> headers;  // those of --proxy-connect-headers it sent
  };
  using Handler = std::function<void(Answer)>;

  // Throws std::invalid_argument for a bad room list (validate() has checked them).
  AppProxy(const Config& config, Metrics& metrics);
  ~AppProxy();
  AppProxy(const AppProxy&) = delete;
  AppProxy& operator=(const AppProxy&) = delete;

  // Makes the strand and the HTTP clients on `ioc` (I/O thread 0). Throws when the CA file fails.
  void start(boost::asio::io_context& ioc);
  // Fails the requests waiting for a connection; those under way end with their answer or their
  // timeout. From the main thread, before the io_contexts stop.
  void stop();

  // Whether a request of `route` in `room` goes to the application first. From any thread.
  bool wants(Route route, std::string_view room) const;

  // Whether a handshake without a token is asked of the application (--proxy-connect).
  bool wants_connect() const { return targets_[static_cast<std::size_t>(Route::connect)].has_value(); }
  // The headers a connect request carries, lowercase: --proxy-connect-headers.
  const std::vector<std::string>& connect_headers() const { return connect_headers_; }
  // The application's answer to a handshake without a token, given to `done` once, on the
  // proxy's strand: allowed with the identity it gives, denied (status and message), or unavailable.
  void connect(const ConnectRequest& request, Handler done);

  // The application's answer to `user`'s subscribe to `room` (on `connection`), given to `done`
  // once, on the proxy's strand.
  void subscribe(const auth::Identity& user, cluster::ConnectionId connection, const std::string& room, bool presence,
                 Handler done);
  // The application's answer to `user`'s publish of `data` (JSON text) to `room`, from
  // `connection` (none: through the HTTP API), with the client's idempotency key (empty: none),
  // given to `done` once, on the proxy's strand.
  void publish(const auth::Identity& user, std::optional<cluster::ConnectionId> connection, const std::string& room,
               std::string_view data, std::string_view idem, Handler done);

  // The route's name in options, logs and metrics: "subscribe", "publish" or "connect".
  static std::string_view name(Route route);

 private:
  struct Target {
    std::string url;
    RoomPatterns rooms;
    std::shared_ptr<HttpClient> client;
  };
  // POSTs `body` to the route's URL and reads the answer; `done` on the strand.
  void call(Route route, std::string body, Handler done);
  // The answer to a call, or why it is unavailable.
  Answer read_answer(Route route, const HttpClient::Response& response) const;
  // An allowed connect's identity from the answer; throws std::invalid_argument saying what is wrong.
  static auth::Identity identity_of(const nlohmann::json& answer, const Config& config);
  // --proxy-connect-headers' names, lowercase.
  static std::vector<std::string> connect_header_names(std::string_view list);
  static constexpr std::size_t kMaxUserBytes = 1024;  // an allowed connect's user id
  static constexpr int kMaxDataDepth = 64;             // a replacement data's nesting, as a client's
  static constexpr std::int64_t kMaxExpiresAt = std::int64_t{1} << 33;  // seconds: the year 2242

  const Config& config_;
  Metrics& metrics_;
  std::optional<boost::asio::strand<boost::asio::io_context::executor_type>> strand_;
  std::optional<Target> targets_[kRoutes];  // by Route; empty: that route is not proxied
  std::vector<std::string> connect_headers_;
  // The lines saying a call failed: a burst of 10, then one a second (the application down under
  // load would otherwise write one per client request).
  mutable LogBudget failure_lines_{1, 10};
};

}  // namespace switchboard::server
