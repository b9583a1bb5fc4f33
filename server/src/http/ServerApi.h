#pragma once
// The server API, for backends only (an API key; HttpApi authenticates the caller): acts on users
// and rooms of the whole cluster through the control channel. Documented in protocol/PROTOCOL.md
// ("Server API").
//   POST /api/disconnect          close a user's (or a token's) connections; optionally refuse
//                                 their handshakes until a time (the deny-list)
//   POST /api/unsubscribe         take a user out of a room
//   POST /api/broadcast           one message to many rooms
//   GET  /api/rooms               rooms with subscribers, by pattern, paged
//   GET  /api/presence-stats      how many connections and users a room has
//   GET  /api/users/{id}          whether a user is online, with how many connections, in which rooms
// The answers that gather the nodes' facts say how many nodes answered of how many the cluster
// knows: {"nodes":{"answered":N,"known":M}}.
#include <functional>
#include <string_view>

#include "dispatch/Dispatcher.h"
#include "http/HttpRoutes.h"
#include "observability/Metrics.h"
#include "switchboard/cluster/ControlChannel.h"

namespace switchboard::server {

// The sender subscribers see in a backend's message that names none (an API key's "from").
inline constexpr std::string_view kDefaultSender = "server";


class ServerApi {
 public:
  using Respond = std::function<void(HttpResponse)>;

  ServerApi(Dispatcher& dispatcher, cluster::ControlChannel& control, Metrics& metrics)
      : dispatcher_(dispatcher), control_(control), metrics_(metrics) {}

  // The endpoint of `path` (after "/api/"), as counted in /metrics ("disconnect", …, "users"),
  // or empty when it is none of the server API's.
  static std::string_view endpoint_of(std::string_view path);
  // The method an endpoint takes.
  static http::verb method_of(std::string_view endpoint);

  // A backend's call of `endpoint`: `respond` is called once, on any thread.
  void handle(const HttpRequest& req, std::string_view endpoint, Respond respond);

 private:
  void disconnect(const HttpRequest& req, Respond respond);
  void unsubscribe(const HttpRequest& req, Respond respond);
  void broadcast(const HttpRequest& req, Respond respond);
  void rooms(const HttpRequest& req, Respond respond);
  void presence_stats(const HttpRequest& req, Respond respond);
  void user(const HttpRequest& req, Respond respond);
  // Asks every node `query`; `merge` turns the answers into the 200's body (the "nodes" member
  // added), or the caller hears 503 when no node answered.
  void gather(const HttpRequest& req, std::string_view endpoint, nlohmann::json query,
              std::function<nlohmann::json(const std::vector<nlohmann::json>& answers)> merge, Respond respond,
              std::optional<std::chrono::system_clock::time_point> keep_until = std::nullopt);
  HttpResponse answer(const HttpRequest& req, std::string_view endpoint, http::status status, std::string_view code,
                      std::string_view message);
  HttpResponse ok(const HttpRequest& req, std::string_view endpoint, const nlohmann::json& body);

  Dispatcher& dispatcher_;
  cluster::ControlChannel& control_;
  Metrics& metrics_;
};

}  // namespace switchboard::server
