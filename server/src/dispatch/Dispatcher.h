#pragma once
// Carries out client requests (subscribe, publish, presence, …) against the room registry,
// the broker and the presence store, and delivers what the broker and the store send back.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>

#include "admission/DenyList.h"
#include "dispatch/Connection.h"
#include "fanout/RoomRegistry.h"
#include "observability/Metrics.h"
#include "switchboard/auth/Authenticator.h"
#include "switchboard/cluster/Broker.h"
#include "switchboard/cluster/PresenceStore.h"
#include "switchboard/protocol/Command.h"
#include "switchboard/server/Config.h"

namespace switchboard::server {

class AppProxy;
class Webhooks;

class Dispatcher {
 public:
  Dispatcher(const Config& config, auth::Authenticator& authenticator, cluster::Broker& broker,
         cluster::PresenceStore& presence, Metrics& metrics);
  ~Dispatcher();

  // Before the node serves: the server API's deny-list, which open() checks again (a handshake
  // admitted just before its user was revoked, and opened just after the revoking disconnect
  // looked for the user's connections, is closed then).
  void set_deny_list(const DenyList* denied) { denied_ = denied; }
  // A connection finished its WebSocket handshake.
  void open(const std::shared_ptr<Connection>& conn);
  // One frame from `conn`: a text frame's JSON request, or a binary frame's publish of bytes
  // (protocol::parse_binary_command); runs on the connection's thread.
  void handle(const std::shared_ptr<Connection>& conn, std::string_view text, bool binary = false);
  // Carries out a request, on the connection's thread (after handle took it from its request rate).
  void execute(const std::shared_ptr<Connection>& conn, protocol::Command& req);
  // A subscribe the node makes on the connection's behalf (an SSE stream's rooms), on the
  // connection's thread, without taking from its request rate: answered, like a client's, with
  // conn->subscribed or conn->unsubscribed (with a null id).
  void subscribe_on_behalf(const std::shared_ptr<Connection>& conn, const std::string& room, bool presence,
                           std::optional<protocol::StreamPosition> since);
  // A frame that is not a valid request (bad JSON, a binary frame): costs a request of the
  // connection's rate like any other, then replies with the error (or rate_limited, then 4029).
  void refuse(Connection& conn, const nlohmann::json& id, protocol::ErrorCode code, std::string_view message);
  // Replies with an error.
  void reply_error(Connection& conn, const nlohmann::json& id, protocol::ErrorCode code,
                   std::string_view message);
  // The connection is gone: leaves every room. Called once per opened connection.
  void close(Connection& conn);

  // A message from a backend (the HTTP API) rather than a connection, `data` its JSON text as
  // parse_publish_body keeps it: `done(offset)` is called once, on any thread, when the broker has
  // taken it (nullopt when it could not). `idem`: the request's idempotency key as
  // scoped_idem() makes it (empty: none).
  void publish_from_backend(const std::string& room, std::string_view data, std::string_view from,
                            const std::string& idem, cluster::Broker::PublishHandler done);
  // A publish's idempotency key as the broker keeps it: the client's key and its publisher — a
  // user (`u:<user id>`), or the node's API keys together (`api`) —, so that no publisher's key
  // answers another's publish. Empty when the client sent none.
  static std::string scoped_idem(std::string_view idem, std::string_view user, bool api_key);
  // The latest `limit` messages of `room`, for the HTTP API: `done` is called once, on any thread.
  void history_for_backend(const std::string& room, std::size_t limit, cluster::Broker::HistoryHandler done);
  // The presence list of `room`, for the HTTP API: `done` is called once, on any thread.
  void presence_for_backend(const std::string& room, cluster::PresenceStore::ListHandler done);

  // The server API's acts on this node's connections (see ControlHandler). Each finds the
  // connections by user (and token id) from any thread.
  // Closes the open connections of `user` (unless empty) whose handshake token's id is `token_id`
  // (unless empty) with `code` and `reason`; returns how many were asked to close.
  std::size_t disconnect(const std::string& user, const std::string& token_id, std::uint16_t code,
                         const std::string& reason);
  // Unsubscribes every connection of `user` from `room`, each told with an `unsubscribed` push
  // (forbidden, `message`) on its own thread; returns how many were subscribed.
  std::size_t unsubscribe_user(const std::string& user, const std::string& room, const std::string& message);
  struct UserFacts {
    std::size_t connections = 0;
    std::vector<std::string> rooms;  // sorted, each once
  };
  UserFacts user_facts(const std::string& user) const;

  // Asks every open connection to close with `code`, and every one opened from now on;
  // returns how many were asked.
  std::size_t shutdown_all(std::uint16_t code, const std::string& reason);
  // Drops every open connection without a close handshake (the end of a shutdown's grace).
  void abort_all();
  std::size_t connection_count() const;
  // Blocks until every connection is closed or `limit` passes; returns whether none is left.
  bool wait_until_no_connections(std::chrono::milliseconds limit) const;
  const RoomRegistry& registry() const { return registry_; }
  // The webhooks told of connections, publishes and presence changes; set before the node starts.
  void set_webhooks(Webhooks* webhooks) { webhooks_ = webhooks; }
  // The proxy that asks the application first (subscribes, publishes); set before the node starts.
  void set_app_proxy(AppProxy* proxy) { proxy_ = proxy; }
  AppProxy* app_proxy() const { return proxy_; }
  // Requests of a connection held while one of its requests waits for the application; past
  // this, a further request is answered unavailable.
  static constexpr std::size_t kMaxHeldRequests = 64;

 private:
  void subscribe(const std::shared_ptr<Connection>& conn, nlohmann::json id, const std::string& room, bool presence,
                 std::optional<protocol::StreamPosition> since);
  void unsubscribe(const std::shared_ptr<Connection>& conn, protocol::Command& req);
  // A subscribe allowed (by the permissions, and by the application when it is asked): joins the room.
  void join(const std::shared_ptr<Connection>& conn, nlohmann::json id, const std::string& room, bool presence,
            std::optional<protocol::StreamPosition> since);
  void publish(const std::shared_ptr<Connection>& conn, protocol::Command& req);
  // A publish allowed (by the permissions and rate, and by the application when it is asked): to the broker.
  void send_publish(const std::shared_ptr<Connection>& conn, protocol::Command& req);
  // A publish the broker took (from a connection or a backend): the webhooks told when one wants
  // it (`data` is kept only then: empty otherwise), and the time since `started` counted.
  void published(const std::string& room, const std::string& from, std::uint64_t offset, const std::string& data,
                 std::chrono::steady_clock::time_point started);
  // The application's answer to request `id` of `conn` came (on any thread): `then` runs on the
  // connection's thread, and the requests held meanwhile after it. (The connection's
  // awaiting_app() was counted up when the request was sent.)
  void after_app(const std::shared_ptr<Connection>& conn, nlohmann::json id, std::function<void()> then);
  // Whether a subscribe to `room` (with `presence`) is asked of the application: a new
  // subscription, or one that adds presence to an existing one.
  bool asks_app(const Connection& conn, const std::string& room, bool presence) const;
  // Whether `room`'s members are the application's (--proxy-subscribe) and `conn` is not one:
  // then it may not read the room's history or presence.
  bool app_member_only(const Connection& conn, const std::string& room) const;
  // Carries out the requests held while the connection waited for the application, in order,
  // until one waits again.
  void release_held(const std::shared_ptr<Connection>& conn);
  void presence(const std::shared_ptr<Connection>& conn, protocol::Command& req);
  void refresh(const std::shared_ptr<Connection>& conn, protocol::Command& req);
  void history(const std::shared_ptr<Connection>& conn, protocol::Command& req);
  // The second half of a new subscription, once the broker delivers the room to this node: reads
  // the room's position (and, with `since`, the messages after it), replies, and releases it.
  void answer_subscribe(const std::shared_ptr<Connection>& conn, nlohmann::json id, std::string room,
                        std::optional<protocol::StreamPosition> since);
  // Replies rate_limited; the connection is closed with 4029 after too many in a row.
  void rate_limited(Connection& conn, const nlohmann::json& id, std::string_view message);
  // Replies forbidden and returns false unless the connection may do `action` in `room`.
  bool check(Connection& conn, const nlohmann::json& id, auth::RoomAction action, const std::string& room);
  // The forbidden error's message when the connection may not do `action` in `room`.
  static std::optional<std::string> forbidden(const Connection& conn, auth::RoomAction action, const std::string& room);
  // A subscribe to `room` is refused: counted, and told to the connection (conn.unsubscribed).
  void refuse_subscribe(Connection& conn, const nlohmann::json& id, const std::string& room, protocol::ErrorCode code,
                        std::string_view message);
  void reply_ok(Connection& conn, const nlohmann::json& id);
  // Like reply_ok and reply_error, but through the connection's queue (thread-safe), behind
  // every frame already on its way to it.
  void queue_ok(Connection& conn, const nlohmann::json& id);
  void queue_error(Connection& conn, const nlohmann::json& id, protocol::ErrorCode code, std::string_view message);
  std::vector<std::shared_ptr<Connection>> open_connections() const;
  // The open connections of `user`.
  std::vector<std::shared_ptr<Connection>> connections_of(const std::string& user) const;

  const Config& config_;
  auth::Authenticator& authenticator_;
  cluster::Broker& broker_;
  cluster::PresenceStore& presence_;
  Metrics& metrics_;
  RoomRegistry registry_;
  const DenyList* denied_ = nullptr;
  Webhooks* webhooks_ = nullptr;
  AppProxy* proxy_ = nullptr;

  mutable std::mutex connections_mutex_;
  mutable std::condition_variable connections_closed_;
  std::unordered_map<cluster::ConnectionId, std::weak_ptr<Connection>> connections_;
  std::uint16_t stop_code_ = 0;  // non-zero once the node is shutting down; guarded by connections_mutex_
  std::string stop_reason_;
};

}  // namespace switchboard::server
