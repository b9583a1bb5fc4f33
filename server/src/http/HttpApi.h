#pragma once
// The HTTP API for backends (and for browsers on a Server-Sent Events stream): POST /api/publish,
// GET /api/presence and GET /api/history; and, for API keys only, the server API (ServerApi:
// /api/disconnect, /api/rooms, …). Documented in protocol/PROTOCOL.md ("HTTP API").
//
// A caller presents `Authorization: Bearer <key>`: one of the node's API keys (--api-keys),
// which may do everything and may name the sender ("from"), or a JWT, which may do what its
// rooms grant allows, as its "sub".
#include <functional>
#include <string>
#include <vector>

#include "admission/KeyedRateLimiter.h"
#include "dispatch/Dispatcher.h"
#include "http/HttpRoutes.h"
#include "http/ServerApi.h"
#include "observability/Metrics.h"
#include "switchboard/auth/Authenticator.h"
#include "switchboard/server/Config.h"

namespace switchboard::server {

class HttpApi {
 public:
  // Called once with the answer, on any thread.
  using Respond = std::function<void(HttpResponse)>;

  HttpApi(const Config& config, auth::Authenticator& authenticator, Dispatcher& dispatcher, Metrics& metrics,
          cluster::ControlChannel& control);

  static bool handles(std::string_view path) { return path.rfind("/api/", 0) == 0; }
  // `client_address`: the caller's address (behind a trusted proxy, the one it forwarded), which
  // anonymous callers' publishes are rate limited by.
  void handle(const HttpRequest& req, std::string_view client_address, Respond respond);

 private:
  struct Caller {
    bool backend = false;  // an API key: every room, may set "from"
    bool anonymous = false;
    std::size_t key_index = 0;  // which API key, for a backend
    auth::Identity identity;
  };
  // What limits a caller's publishes: per API key, per token user (or the token's own limits, with
  // --token-limits), per anonymous address.
  struct PublishLimit {
    double rate;  // per second; 0: unlimited
    double burst;
    std::string_view set_by;  // the option or claim that sets it, for the 429's message
  };
  PublishLimit publish_limit(const Caller& caller) const;
  // Whether the caller may publish now, by its API key, its token's user, or (anonymous) its address.
  bool allow_publish(const Caller& caller, std::string_view client_address);
  // The caller, or the 401 to answer.
  std::variant<Caller, HttpResponse> authenticate(const HttpRequest& req);
  void publish(const HttpRequest& req, const Caller& caller, Respond respond);
  // Whether `room`'s members are the application's (--proxy-subscribe) and the caller a client:
  // then the HTTP API does not show it the room's history or presence.
  bool app_members_only(const Caller& caller, const std::string& room) const;
  void presence(const HttpRequest& req, const Caller& caller, Respond respond);
  void history(const HttpRequest& req, const Caller& caller, Respond respond);
  // The valid ?room= of `req`, or nullopt when `respond` was called with a 400.
  std::optional<std::string> room_parameter(const HttpRequest& req, std::string_view endpoint, Respond& respond);
  HttpResponse answer(const HttpRequest& req, std::string_view endpoint, http::status status, std::string_view code,
                  std::string_view message);

  const Config& config_;
  auth::Authenticator& authenticator_;
  Dispatcher& dispatcher_;
  Metrics& metrics_;
  std::vector<std::string> api_keys_;
  // Publishes per API key, per token user and per anonymous client address: token buckets
  // by caller, bounded in number like the handshakes' per address.
  KeyedRateLimiter key_publishes_;
  KeyedRateLimiter user_publishes_;
  KeyedRateLimiter address_publishes_;
  ServerApi server_api_;
};

}  // namespace switchboard::server
