#pragma once
// The proxy to the application: a client's subscribe (--proxy-subscribe) or publish
// (--proxy-publish), in the rooms the route names, is first POSTed to the application's backend,
// which allows it, refuses it with a message (the client gets `forbidden`), or — for a publish —
// allows it with other data (moderation, enrichment, storing before the fan-out). A backend that
// fails, answers late (--proxy-timeout-ms) or is busy (--proxy-concurrency) makes the client's
// request `unavailable`. The requests are signed as the webhooks are (X-Switchboard-Timestamp,
// X-Switchboard-Signature: v1=HMAC-SHA256 of "timestamp.body" with --proxy-secret).
//
// Asynchronous: each route has an HttpClient on a strand of I/O thread 0, and the answer is
// handed to the caller's handler there; no I/O thread ever waits for the application.
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "backend/HttpClient.h"
#include "backend/RoomPatterns.h"
#include "observability/Metrics.h"
#include "switchboard/auth/Identity.h"
#include "switchboard/cluster/ConnectionId.h"
#include "switchboard/server/Config.h"

namespace switchboard::server {

class AppProxy {
 public:
  enum class Route { subscribe, publish };
  struct Answer {
    enum class Verdict { allowed, denied, unavailable };
    Verdict verdict = Verdict::unavailable;
    std::string message;              // denied: the application's message (may be empty)
    std::optional<std::string> data;  // an allowed publish's replacement data, JSON text
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

  // The application's answer to `user`'s subscribe to `room` (on `connection`), given to `done`
  // once, on the proxy's strand.
  void subscribe(const auth::Identity& user, cluster::ConnectionId connection, const std::string& room, bool presence,
                 Handler done);
  // The application's answer to `user`'s publish of `data` (JSON text) to `room`, from
  // `connection` (none: through the HTTP API), with the client's idempotency key (empty: none),
  // given to `done` once, on the proxy's strand.
  void publish(const auth::Identity& user, std::optional<cluster::ConnectionId> connection, const std::string& room,
               std::string_view data, std::string_view idem, Handler done);

  // The route's name in options, logs and metrics: "subscribe" or "publish".
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

  const Config& config_;
  Metrics& metrics_;
  std::optional<boost::asio::strand<boost::asio::io_context::executor_type>> strand_;
  std::optional<Target> targets_[2];  // by Route; empty: that route is not proxied
};

}  // namespace switchboard::server
