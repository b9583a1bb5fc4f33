#include "http/HttpApi.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "backend/AppProxy.h"
#include "switchboard/auth/JwtAuthenticator.h"
#include "switchboard/protocol/Command.h"
#include "switchboard/protocol/Messages.h"
#include "switchboard/protocol/RoomName.h"
#include "switchboard/server/Log.h"

namespace switchboard::server {

namespace {
// A client's history or presence request in a room whose members the application decides
// (--proxy-subscribe): the HTTP API knows no subscription of it.
const std::string kAppMembersOnly =
    "the application decides who reads this room (--proxy-subscribe): subscribe to it over a WebSocket or "
    "stream, or ask through a backend's API key: ";


bool equal_in_constant_time(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

HttpApi::HttpApi(const Config& config, auth::Authenticator& authenticator, Dispatcher& dispatcher, Metrics& metrics,
                 cluster::ControlChannel& control)
    : config_(config),
      authenticator_(authenticator),
      dispatcher_(dispatcher),
      metrics_(metrics),
      api_keys_(config.api_key_list()),
      key_publishes_(config.http_publish_rate_per_key, config.http_publish_burst),
      user_publishes_(config.http_publish_rate_per_user, config.http_publish_burst),
      address_publishes_(config.http_publish_rate_per_ip, config.http_publish_burst),
      server_api_(dispatcher, control, metrics) {}

HttpApi::PublishLimit HttpApi::publish_limit(const Caller& caller) const {
  if (caller.backend) return {config_.http_publish_rate_per_key, config_.http_publish_burst, "--http-publish-rate-per-key"};
  if (caller.anonymous) return {config_.http_publish_rate_per_ip, config_.http_publish_burst, "--http-publish-rate-per-ip"};
  if (const auto& limits = caller.identity.limits; limits && (limits->publish_rate || limits->publish_burst))
    return {limits->publish_rate.value_or(config_.http_publish_rate_per_user),
            limits->publish_burst.value_or(config_.http_publish_burst), "the token's limits claim"};
  return {config_.http_publish_rate_per_user, config_.http_publish_burst, "--http-publish-rate-per-user"};
}

bool HttpApi::allow_publish(const Caller& caller, std::string_view client_address) {
  if (caller.backend) return key_publishes_.allow(std::to_string(caller.key_index));
  if (caller.anonymous) return address_publishes_.allow(std::string(client_address));
  const auto& limits = caller.identity.limits;
  if (!limits || (!limits->publish_rate && !limits->publish_burst))
    return user_publishes_.allow("n" + caller.identity.user);
  // A token's own limits get a bucket of their own ("t<rate>/<burst>\n<user>", apart from the
  // node's "n<user>"): the user's tokens with other limits (or none) do not refill or drain it.
  auto limit = publish_limit(caller);
  return user_publishes_.allow(
      "t" + std::to_string(limit.rate) + '/' + std::to_string(limit.burst) + '\n' + caller.identity.user, limit.rate,
      limit.burst);
}

HttpResponse HttpApi::answer(const HttpRequest& req, std::string_view endpoint, http::status status, std::string_view code,
                         std::string_view message) {
  metrics_.count_api_request(endpoint, static_cast<unsigned>(status));
  auto res = HttpRoutes::json_error(req, status, code, message);
  if (status == http::status::unauthorized) res.set(http::field::www_authenticate, "Bearer");
  return res;
}

std::variant<HttpApi::Caller, HttpResponse> HttpApi::authenticate(const HttpRequest& req) {
  std::string_view endpoint = req.target().substr(5, req.target().find('?') - 5);
  if (auto named = ServerApi::endpoint_of(endpoint); !named.empty()) endpoint = named;  // users/{id}: "users"
  std::string_view token = auth::JwtAuthenticator::bearer_token(req[http::field::authorization]);
  Caller caller;
  if (token.empty()) {
    // A node that lets anonymous clients connect lets them use the API too (say, a browser on a
    // Server-Sent Events stream): as a new anonymous user each time, with the anonymous grant.
    if (config_.allow_anonymous) {
      auto result = authenticator_.authenticate(auth::AuthRequest{"/api", "", req[http::field::origin], ""});
      if (auto* identity = std::get_if<auth::Identity>(&result)) {
        caller.anonymous = true;
        caller.identity = std::move(*identity);
        return caller;
      }
    }
    return answer(req, endpoint, http::status::unauthorized, "missing_token",
                  "Authorization: Bearer <API key or JWT> is required");
  }
  for (std::size_t i = 0; i < api_keys_.size(); ++i) {
    if (equal_in_constant_time(token, api_keys_[i])) {
      caller.backend = true;
      caller.key_index = i;
      caller.identity.user = kDefaultSender;
      return caller;
    }
  }
  // Not an API key: perhaps a JWT, which may do what its rooms grant allows.
  auto result = authenticator_.verify_token(token);
  if (auto* rejection = std::get_if<auth::AuthRejection>(&result))
    return answer(req, endpoint, http::status::unauthorized, rejection->code,
                  "neither an API key nor a valid token (" + rejection->message + ")");
  caller.identity = std::get<auth::Identity>(std::move(result));
  return caller;
}

void HttpApi::handle(const HttpRequest& req, std::string_view client_address, Respond respond) {
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  std::string_view endpoint = path.substr(5);
  http::verb method = endpoint == "publish" ? http::verb::post : http::verb::get;
  if (auto named = ServerApi::endpoint_of(endpoint); !named.empty()) {
    endpoint = named;
    method = ServerApi::method_of(named);
  } else if (endpoint != "publish" && endpoint != "presence" && endpoint != "history") {
    return respond(answer(req, "unknown", http::status::not_found, "not_found",
                          "the API has POST /api/publish, GET /api/presence and GET /api/history, and for API "
                          "keys POST /api/disconnect, /api/unsubscribe, /api/broadcast, GET /api/rooms, "
                          "/api/presence-stats and /api/users/{id}"));
  }
  if (req.method() != method) {
    auto res = answer(req, endpoint, http::status::method_not_allowed, "method_not_allowed",
                      std::string("use ") + std::string(http::to_string(method)) + " " + std::string(path));
    res.set(http::field::allow, http::to_string(method));
    return respond(std::move(res));
  }
  auto caller = authenticate(req);
  if (auto* refused = std::get_if<HttpResponse>(&caller)) return respond(std::move(*refused));
  if (!ServerApi::endpoint_of(endpoint).empty()) {
    if (std::get<Caller>(caller).anonymous)
      return respond(answer(req, endpoint, http::status::unauthorized, "missing_token",
                            "the server API takes one of the node's API keys (--api-keys): Authorization: Bearer <key>"));
    if (!std::get<Caller>(caller).backend)
      return respond(answer(req, endpoint, http::status::forbidden, "forbidden",
                            "the server API takes one of the node's API keys (--api-keys), not a token"));
    return server_api_.handle(req, endpoint, std::move(respond));
  }
  if (endpoint == "publish") {
    if (!allow_publish(std::get<Caller>(caller), client_address)) {
      auto& c = std::get<Caller>(caller);
      auto limit = publish_limit(c);
      metrics_.count_http_publish_rate_limited(c.backend ? "api_key" : c.anonymous ? "address" : "user");
      std::string who = c.backend ? "this API key" : c.anonymous ? "this address" : "this user";
      auto res = answer(req, endpoint, http::status::too_many_requests, "rate_limited",
                        "publishing too fast: " + who + " may publish " + rate_text(limit.rate) + " per second (burst " +
                            rate_text(limit.burst) + ", " + std::string(limit.set_by) +
                            "); retry after the time in Retry-After");
      // Seconds until the bucket holds a token again.
      res.set(http::field::retry_after, std::to_string(std::max(1L, static_cast<long>(std::ceil(1.0 / limit.rate)))));
      return respond(std::move(res));
    }
    return publish(req, std::get<Caller>(caller), std::move(respond));
  }
  if (endpoint == "history") return history(req, std::get<Caller>(caller), std::move(respond));
  presence(req, std::get<Caller>(caller), std::move(respond));
}

void HttpApi::publish(const HttpRequest& req, const Caller& caller, Respond respond) {
  auto parsed = protocol::parse_publish_body(req.body());
  if (auto* err = std::get_if<protocol::CommandError>(&parsed))
    return respond(answer(req, "publish", http::status::bad_request, protocol::to_string(err->code), err->message));
  auto& body = std::get<protocol::PublishBody>(parsed);
  if (body.from && !caller.backend)
    return respond(answer(req, "publish", http::status::forbidden, "forbidden",
                          caller.anonymous ? "only API keys may set from; an anonymous caller publishes as a new anonymous user"
                                           : "only API keys may set from; a token publishes as its sub"));
  if (!caller.identity.permissions.allows(auth::RoomAction::publish, body.room))
    return respond(answer(req, "publish", http::status::forbidden, "forbidden", "not allowed to publish to " + body.room));
  std::string from = body.from ? *body.from : caller.identity.user;
  // The answer is built when the broker has taken the message: keep what it needs.
  HttpRequest shape;
  shape.version(req.version());
  shape.keep_alive(req.keep_alive());
  auto responder = std::make_shared<Respond>(std::move(respond));
  auto send = [this, room = body.room, from = std::move(from), shape, responder,
               idem = Dispatcher::scoped_idem(body.idem, caller.identity.user, caller.backend)](std::string_view data) {
    dispatcher_.publish_from_backend(room, data, from, idem, [this, shape, responder](std::optional<std::uint64_t> offset) {
      if (!offset)
        return (*responder)(answer(shape, "publish", http::status::service_unavailable, "unavailable",
                                   "message not accepted; retry later"));
      metrics_.count_api_request("publish", 200);
      (*responder)(HttpRoutes::make_response(shape, http::status::ok, "application/json",
                                             protocol::publish_reply(nullptr, *offset)));
    });
  };
  // A client's publish (a token's, or an anonymous caller's) in a room the application decides
  // on is asked of it first; a backend's (an API key's) is the application's own.
  auto* proxy = dispatcher_.app_proxy();
  if (caller.backend || !proxy || !proxy->wants(AppProxy::Route::publish, body.room)) return send(body.data);
  // The answer runs on the proxy's strand (I/O thread 0): an allowed message goes to the broker from there.
  proxy->publish(caller.identity, std::nullopt, body.room, body.data, body.idem,
                 [this, shape, responder, data = body.data, send = std::move(send)](AppProxy::Answer verdict) {
                   using Verdict = AppProxy::Answer::Verdict;
                   if (verdict.verdict == Verdict::allowed) {
                     try {
                       return send(verdict.data ? *verdict.data : data);
                     } catch (const std::exception& e) {
                       log::error(std::string("publish failed: ") + e.what());
                       return (*responder)(answer(shape, "publish", http::status::internal_server_error, "internal",
                                                  "internal error"));
                     }
                   }
                   if (verdict.verdict == Verdict::denied)
                     return (*responder)(answer(shape, "publish", http::status::forbidden, "forbidden",
                                                verdict.message.empty() ? "refused by the application" : verdict.message));
                   (*responder)(answer(shape, "publish", http::status::service_unavailable, "unavailable",
                                       "the application did not answer; retry later"));
                 });
}

bool HttpApi::app_members_only(const Caller& caller, const std::string& room) const {
  auto* proxy = dispatcher_.app_proxy();
  return !caller.backend && proxy && proxy->wants(AppProxy::Route::subscribe, room);
}

std::optional<std::string> HttpApi::room_parameter(const HttpRequest& req, std::string_view endpoint, Respond& respond) {
  auto room = HttpRoutes::query_parameter(req.target(), "room");
  if (!room) {
    respond(answer(req, endpoint, http::status::bad_request, "bad_request",
                   "GET /api/" + std::string(endpoint) + "?room=NAME"));
    return std::nullopt;
  }
  if (!protocol::is_valid_room_name(*room)) {
    respond(answer(req, endpoint, http::status::bad_request, "bad_room", protocol::kRoomNameRule));
    return std::nullopt;
  }
  return room;
}

void HttpApi::history(const HttpRequest& req, const Caller& caller, Respond respond) {
  auto room = room_parameter(req, "history", respond);
  if (!room) return;
  std::size_t limit = protocol::kDefaultHistoryLimit;
  if (auto text = HttpRoutes::query_parameter(req.target(), "limit")) {
    std::size_t value = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc() || end != text->data() + text->size() || value < 1 || value > protocol::kMaxHistoryLimit)
      return respond(answer(req, "history", http::status::bad_request, "bad_request",
                            "limit is an integer from 1 to " + std::to_string(protocol::kMaxHistoryLimit)));
    limit = value;
  }
  // Reading a room's history is part of being subscribed to it.
  if (!caller.identity.permissions.allows(auth::RoomAction::subscribe, *room))
    return respond(answer(req, "history", http::status::forbidden, "forbidden", "not allowed to subscribe to " + *room));
  if (app_members_only(caller, *room))
    return respond(answer(req, "history", http::status::forbidden, "forbidden", kAppMembersOnly + *room));
  auto version = req.version();
  auto keep_alive = req.keep_alive();
  dispatcher_.history_for_backend(*room, limit, [this, version, keep_alive, respond = std::move(respond)](cluster::Broker::History history) {
    HttpRequest shape;
    shape.version(version);
    shape.keep_alive(keep_alive);
    if (!history.available)
      return respond(answer(shape, "history", http::status::service_unavailable, "unavailable",
                            "history is unavailable; retry later"));
    std::vector<protocol::Payload> messages;
    messages.reserve(history.messages.size());
    for (auto& entry : history.messages) messages.push_back(std::move(entry.push));
    metrics_.count_api_request("history", 200);
    respond(HttpRoutes::make_response(shape, http::status::ok, "application/json",
                                      protocol::history_reply(nullptr, history.position, messages)));
  });
}

void HttpApi::presence(const HttpRequest& req, const Caller& caller, Respond respond) {
  auto room = room_parameter(req, "presence", respond);
  if (!room) return;
  if (!caller.identity.permissions.allows(auth::RoomAction::presence, *room))
    return respond(answer(req, "presence", http::status::forbidden, "forbidden", "not allowed to see presence in " + *room));
  if (app_members_only(caller, *room))
    return respond(answer(req, "presence", http::status::forbidden, "forbidden", kAppMembersOnly + *room));
  auto version = req.version();
  auto keep_alive = req.keep_alive();
  dispatcher_.presence_for_backend(*room, [this, version, keep_alive, room = *room,
                                       respond = std::move(respond)](auto members) {
    HttpRequest shape;
    shape.version(version);
    shape.keep_alive(keep_alive);
    if (!members)
      return respond(answer(shape, "presence", http::status::service_unavailable, "unavailable",
                            "presence is unavailable; retry later"));
    metrics_.count_api_request("presence", 200);
    respond(HttpRoutes::make_response(shape, http::status::ok, "application/json",
                                      protocol::presence_answer(room, *members)));
  });
}

}  // namespace switchboard::server
