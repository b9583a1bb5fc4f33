#include "dispatch/Dispatcher.h"

#include <exception>
#include <limits>
#include <set>
#include <variant>

#include "backend/AppProxy.h"
#include "backend/Webhooks.h"
#include "switchboard/protocol/CloseCode.h"
#include "switchboard/protocol/Messages.h"
#include "switchboard/server/Log.h"

namespace switchboard::server {

using protocol::ErrorCode;
using protocol::Op;

namespace {
// What a history reply holds besides its messages: id, offset, epoch, "truncated" (generous).
constexpr std::size_t kHistoryReplyOverhead = 512;
// The refusal of a history or presence request in a room whose members the application decides
// (--proxy-subscribe) from a connection that is not subscribed to it.
const std::string kMembersOnly = "subscribe first: the application decides who reads ";

// The rate_limited message: the limit in force on the connection, what sets it, and how to raise it.
std::string limit_message(Connection& conn, bool publishing) {
  const auto& limits = conn.identity().limits;
  bool by_token = limits && (publishing ? limits->publish_rate || limits->publish_burst
                                        : limits->request_rate || limits->request_burst);
  const TokenBucket& bucket = publishing ? conn.publish_bucket() : conn.request_bucket();
  std::string text = publishing ? "publishing too fast: this connection may publish "
                                : "too many requests: this connection may make ";
  text += rate_text(bucket.rate()) + (publishing ? " per second" : " requests per second besides publishes") +
          " (burst " + rate_text(bucket.burst()) + ", ";
  if (by_token) return text + "its token's limits claim)";
  return text + (publishing ? "--publish-rate and --publish-burst); a token's limits claim (on a node with "
                              "--token-limits) or POST /api/publish allow more"
                            : "--request-rate and --request-burst); a token's limits claim (on a node with "
                              "--token-limits) allows more");
}
}  // namespace

Dispatcher::Dispatcher(const Config& config, auth::Authenticator& authenticator, cluster::Broker& broker,
               cluster::PresenceStore& presence, Metrics& metrics)
    : config_(config),
      authenticator_(authenticator),
      broker_(broker),
      presence_(presence),
      metrics_(metrics),
      registry_(broker, config.max_queue_bytes) {
  broker_.set_deliver_handler(
      [this](const std::string& room, const protocol::Payload& push, std::uint64_t offset, std::string_view epoch) {
        metrics_.deliveries += registry_.deliver(room, push, offset, epoch);
      });
  presence_.set_event_handler([this](const std::string& room, const protocol::Payload& event) {
    metrics_.deliveries += registry_.deliver_presence(room, event);
    if (webhooks_) webhooks_->presence_changed(room, event);
  });
  presence_.set_member_handler([this](const std::string& room, const std::string& user, const std::string& info,
                                      bool added, bool room_edge) {
    if (webhooks_) webhooks_->member_changed(room, user, info, added, room_edge);
  });
}

Dispatcher::~Dispatcher() {
  broker_.set_deliver_handler(nullptr);
  presence_.set_event_handler(nullptr);
  presence_.set_member_handler(nullptr);
}

void Dispatcher::open(const std::shared_ptr<Connection>& conn) {
  std::uint16_t stop_code;
  std::string stop_reason;
  {
    std::lock_guard lock(connections_mutex_);
    connections_.emplace(conn->id(), conn);
    stop_code = stop_code_;
    if (stop_code) stop_reason = stop_reason_;
  }
  ++metrics_.connections_opened;
  ++metrics_.connections_current;
  if (webhooks_) webhooks_->connection_opened(conn->id(), conn->identity().user);
  conn->watch_token_expiry();
  // A handshake that finished while the node shuts down is closed like the others.
  if (stop_code) return conn->shutdown(stop_code, std::move(stop_reason));
  if (denied_ && denied_->refused_until(conn->identity().user, conn->identity().token_id))
    conn->shutdown(protocol::close_code::disconnected, "revoked");
}

void Dispatcher::close(Connection& conn) {
  for (const auto& room : registry_.remove_all(conn.id())) presence_.leave(room, conn.id());
  {
    std::lock_guard lock(connections_mutex_);
    connections_.erase(conn.id());
  }
  --metrics_.connections_current;
  if (webhooks_) webhooks_->connection_closed(conn.id(), conn.identity().user);
  connections_closed_.notify_all();
}

std::vector<std::shared_ptr<Connection>> Dispatcher::open_connections() const {
  std::vector<std::shared_ptr<Connection>> open;
  std::lock_guard lock(connections_mutex_);
  for (const auto& [id, weak] : connections_)
    if (auto conn = weak.lock()) open.push_back(std::move(conn));
  return open;
}

std::vector<std::shared_ptr<Connection>> Dispatcher::connections_of(const std::string& user) const {
  std::vector<std::shared_ptr<Connection>> found;
  std::lock_guard lock(connections_mutex_);
  for (const auto& [id, weak] : connections_)
    if (auto conn = weak.lock(); conn && conn->identity().user == user) found.push_back(std::move(conn));
  return found;
}

std::size_t Dispatcher::disconnect(const std::string& user, const std::string& token_id, std::uint16_t code,
                                   const std::string& reason) {
  std::size_t closed = 0;
  for (auto& conn : user.empty() ? open_connections() : connections_of(user)) {
    if (!token_id.empty() && conn->identity().token_id != token_id) continue;
    log::info("closing connection " + std::to_string(conn->id()) + " (" + conn->identity().user + ") with " +
              std::to_string(code) + ": asked by the server API");
    conn->shutdown(code, reason);
    ++closed;
  }
  return closed;
}

std::size_t Dispatcher::unsubscribe_user(const std::string& user, const std::string& room, const std::string& message) {
  std::size_t found = 0;
  for (auto& conn : connections_of(user)) {
    if (!registry_.contains(conn->id(), room)) continue;
    ++found;
    // On the connection's thread, as its own unsubscribe would be: the push follows every
    // message of the room already on its way to it.
    conn->post([this, conn, room, message] {
      if (!registry_.remove(conn->id(), room)) return;
      presence_.leave(room, conn->id());
      metrics_.count_error(ErrorCode::forbidden);
      conn->deliver(protocol::unsubscribed_push(room, ErrorCode::forbidden, message));
    });
  }
  return found;
}

Dispatcher::UserFacts Dispatcher::user_facts(const std::string& user) const {
  UserFacts facts;
  std::set<std::string> rooms;
  for (auto& conn : connections_of(user)) {
    ++facts.connections;
    for (auto& sub : registry_.subscriptions_of(conn->id())) rooms.insert(std::move(sub.room));
  }
  facts.rooms.assign(rooms.begin(), rooms.end());
  return facts;
}

std::size_t Dispatcher::shutdown_all(std::uint16_t code, const std::string& reason) {
  {
    std::lock_guard lock(connections_mutex_);
    stop_code_ = code;
    stop_reason_ = reason;
  }
  auto open = open_connections();
  for (auto& conn : open) conn->shutdown(code, reason);
  return open.size();
}

void Dispatcher::abort_all() {
  for (auto& conn : open_connections()) conn->abort();
}

bool Dispatcher::wait_until_no_connections(std::chrono::milliseconds limit) const {
  std::unique_lock lock(connections_mutex_);
  return connections_closed_.wait_for(lock, limit, [this] { return connections_.empty(); });
}

std::size_t Dispatcher::connection_count() const {
  std::lock_guard lock(connections_mutex_);
  return connections_.size();
}

void Dispatcher::reply_ok(Connection& conn, const nlohmann::json& id) {
  if (!id.is_null()) conn.reply(protocol::ok_reply(id));
}

void Dispatcher::reply_error(Connection& conn, const nlohmann::json& id, ErrorCode code, std::string_view message) {
  metrics_.count_error(code);
  conn.reply(protocol::error_reply(id, code, message));
}

void Dispatcher::queue_ok(Connection& conn, const nlohmann::json& id) {
  if (!id.is_null()) conn.deliver(protocol::make_payload(protocol::ok_reply(id)));
}

void Dispatcher::queue_error(Connection& conn, const nlohmann::json& id, ErrorCode code, std::string_view message) {
  metrics_.count_error(code);
  conn.deliver(protocol::make_payload(protocol::error_reply(id, code, message)));
}

void Dispatcher::handle(const std::shared_ptr<Connection>& conn, std::string_view text, bool binary) {
  auto parsed = binary ? protocol::parse_binary_command(text) : protocol::parse_command(text);
  if (auto* err = std::get_if<protocol::CommandError>(&parsed)) return refuse(*conn, err->id, err->code, err->message);
  auto& req = std::get<protocol::Command>(parsed);
  if (req.op != Op::publish) {
    if (!conn->request_bucket().try_take()) return rate_limited(*conn, req.id, limit_message(*conn, false));
    conn->rate_limit_strikes() = 0;
  }
  if (conn->awaiting_app() > 0) {
    // Behind a request the application has not answered yet: carried out after it, in order.
    if (conn->held_requests().size() >= kMaxHeldRequests ||
        conn->held_bytes() + text.size() > config_.max_queue_bytes)
      return reply_error(*conn, req.id, ErrorCode::unavailable,
                         "too many requests waiting for the application's answer; retry later");
    conn->held_bytes() += text.size();
    conn->held_requests().push_back({std::move(req), text.size()});
    return;
  }
  execute(conn, req);
}

void Dispatcher::after_app(const std::shared_ptr<Connection>& conn, nlohmann::json id, std::function<void()> then) {
  // Nothing runs once the connection is gone (Connection::post).
  conn->post([this, conn, id = std::move(id), then = std::move(then)] {
    --conn->awaiting_app();
    try {
      then();
    } catch (const std::exception& e) {
      log::error(std::string("request failed: ") + e.what());
      reply_error(*conn, id, ErrorCode::internal, "internal error");
    }
    release_held(conn);
  });
}

void Dispatcher::release_held(const std::shared_ptr<Connection>& conn) {
  auto& held = conn->held_requests();
  std::size_t next = 0;
  while (conn->awaiting_app() == 0 && next < held.size()) {
    auto& [req, bytes] = held[next++];
    conn->held_bytes() -= bytes;
    if (req.op == Op::subscribe && req.id.is_null()) subscribe_on_behalf(conn, req.room, req.presence, req.since);
    else execute(conn, req);
  }
  held.erase(held.begin(), held.begin() + static_cast<std::ptrdiff_t>(next));
  if (held.empty()) held.shrink_to_fit();
}

void Dispatcher::refuse(Connection& conn, const nlohmann::json& id, ErrorCode code, std::string_view message) {
  // Garbage costs a request like any other: a flood of it ends in rate_limited, then 4029.
  if (!conn.request_bucket().try_take()) return rate_limited(conn, id, limit_message(conn, false));
  reply_error(conn, id, code, message);
}

void Dispatcher::execute(const std::shared_ptr<Connection>& conn, protocol::Command& req) {
  try {
    switch (req.op) {
      case Op::subscribe: return subscribe(conn, req.id, req.room, req.presence, req.since);
      case Op::unsubscribe: return unsubscribe(conn, req);
      case Op::publish: return publish(conn, req);
      case Op::presence: return presence(conn, req);
      case Op::ping: return reply_ok(*conn, req.id);
      case Op::refresh: return refresh(conn, req);
      case Op::history: return history(conn, req);
    }
  } catch (const std::exception& e) {
    log::error(std::string("request failed: ") + e.what());
    reply_error(*conn, req.id, ErrorCode::internal, "internal error");
  }
}

void Dispatcher::rate_limited(Connection& conn, const nlohmann::json& id, std::string_view message) {
  reply_error(conn, id, ErrorCode::rate_limited, message);
  // A client that keeps sending through its errors is flooding, not just bursting.
  if (config_.rate_limit_strikes > 0 && ++conn.rate_limit_strikes() == config_.rate_limit_strikes) {
    log::info("closing connection " + std::to_string(conn.id()) + " (" + conn.identity().user + "): " +
              std::to_string(config_.rate_limit_strikes) + " requests refused in a row");
    conn.shutdown(protocol::close_code::too_many_requests, "too many requests");
  }
}

std::optional<std::string> Dispatcher::forbidden(const Connection& conn, auth::RoomAction action, const std::string& room) {
  if (conn.identity().permissions.allows(action, room)) return std::nullopt;
  static constexpr std::string_view kWhat[] = {"subscribe to", "publish to", "see presence in"};
  return std::string("not allowed to ") + std::string(kWhat[static_cast<int>(action)]) + " " + room;
}

bool Dispatcher::check(Connection& conn, const nlohmann::json& id, auth::RoomAction action, const std::string& room) {
  auto message = forbidden(conn, action, room);
  if (message) reply_error(conn, id, ErrorCode::forbidden, *message);
  return !message;
}

void Dispatcher::refuse_subscribe(Connection& conn, const nlohmann::json& id, const std::string& room, ErrorCode code,
                                  std::string_view message) {
  metrics_.count_error(code);
  conn.unsubscribed(id, room, code, message);
}

void Dispatcher::subscribe_on_behalf(const std::shared_ptr<Connection>& conn, const std::string& room, bool presence,
                                     std::optional<protocol::StreamPosition> since) {
  if (conn->awaiting_app() > 0) {
    // One at a time while the application is asked (a stream's rooms, each perhaps asked of it):
    // held as a subscribe without an id, carried out in turn.
    protocol::Command held;
    held.op = Op::subscribe;
    held.room = room;
    held.presence = presence;
    held.since = std::move(since);
    conn->held_requests().push_back({std::move(held), 0});
    return;
  }
  try {
    subscribe(conn, nullptr, room, presence, std::move(since));
  } catch (const std::exception& e) {
    log::error(std::string("subscribe failed: ") + e.what());
    refuse_subscribe(*conn, nullptr, room, ErrorCode::internal, "internal error");
  }
}

void Dispatcher::subscribe(const std::shared_ptr<Connection>& conn, nlohmann::json id, const std::string& room,
                           bool presence, std::optional<protocol::StreamPosition> since) {
  auto message = forbidden(*conn, auth::RoomAction::subscribe, room);
  if (!message && presence) message = forbidden(*conn, auth::RoomAction::presence, room);
  if (message) return refuse_subscribe(*conn, id, room, ErrorCode::forbidden, *message);
  // In a room the application decides on: a new subscription, or one that adds presence, is
  // asked first — after the node's own checks (--max-rooms), so that what they refuse never
  // reaches the application.
  if (proxy_ && proxy_->wants(AppProxy::Route::subscribe, room) && asks_app(*conn, room, presence)) {
    if (!registry_.contains(conn->id(), room) && registry_.subscriptions_of(conn->id()).size() >= config_.max_rooms)
      return refuse_subscribe(*conn, id, room, ErrorCode::too_many_rooms,
                              "this connection is in " + std::to_string(config_.max_rooms) + " rooms already");
    proxy_->subscribe(conn->identity(), conn->id(), room, presence,
                      [this, conn, id = std::move(id), room = std::string(room), presence,
                       since = std::move(since)](AppProxy::Answer answer) mutable {
      auto request_id = id;
      after_app(conn, std::move(request_id), [this, conn, id = std::move(id), room = std::move(room), presence,
                                              since = std::move(since), answer = std::move(answer)]() mutable {
        using Verdict = AppProxy::Answer::Verdict;
        if (answer.verdict == Verdict::allowed) return join(conn, std::move(id), room, presence, std::move(since));
        if (answer.verdict == Verdict::denied)
          return refuse_subscribe(*conn, id, room, ErrorCode::forbidden,
                                  answer.message.empty() ? "refused by the application" : answer.message);
        refuse_subscribe(*conn, id, room, ErrorCode::unavailable, "the application did not answer; retry later");
      });
    });
    // Counted once the request is on its way (the answer is posted, never run before this): a
    // call that threw leaves nothing held.
    ++conn->awaiting_app();
    return;
  }
  join(conn, std::move(id), room, presence, std::move(since));
}

bool Dispatcher::asks_app(const Connection& conn, const std::string& room, bool presence) const {
  if (!registry_.contains(conn.id(), room)) return true;
  if (!presence) return false;
  for (const auto& sub : registry_.subscriptions_of(conn.id()))
    if (sub.room == room) return !sub.presence;
  return true;
}

bool Dispatcher::app_member_only(const Connection& conn, const std::string& room) const {
  return proxy_ && proxy_->wants(AppProxy::Route::subscribe, room) && !registry_.contains(conn.id(), room);
}

void Dispatcher::join(const std::shared_ptr<Connection>& conn, nlohmann::json id, const std::string& room,
                      bool presence, std::optional<protocol::StreamPosition> since) {
  switch (registry_.add(conn, room, presence, config_.max_rooms)) {
    case RoomRegistry::AddResult::too_many_rooms:
      return refuse_subscribe(*conn, id, room, ErrorCode::too_many_rooms,
                              "this connection is in " + std::to_string(config_.max_rooms) + " rooms already");
    case RoomRegistry::AddResult::updated:
      return reply_ok(*conn, id);
    case RoomRegistry::AddResult::added:
      // The reply waits until the broker delivers the room's messages to this node (at once on a
      // single node; once Redis confirms in a cluster): from the reply on, nothing is missed.
      broker_.when_subscribed(room, [this, conn, id = std::move(id), room = std::string(room), since = std::move(since)](bool subscribed) mutable {
        // Back on the connection's thread, where its requests and its close are handled.
        conn->post([this, conn, id = std::move(id), room = std::move(room), since = std::move(since),
                    subscribed]() mutable {
          if (!subscribed) {
            registry_.remove(conn->id(), room);
            return refuse_subscribe(*conn, id, room, ErrorCode::unavailable, "cannot subscribe right now; retry later");
          }
          answer_subscribe(conn, std::move(id), std::move(room), std::move(since));
        });
      });
      return;
  }
}

void Dispatcher::answer_subscribe(const std::shared_ptr<Connection>& conn, nlohmann::json id, std::string room,
                              std::optional<protocol::StreamPosition> since) {
  if (!registry_.contains(conn->id(), room)) return reply_ok(*conn, id);  // left meanwhile
  // Read now that the room's messages reach this node: every later one arrives held, every
  // earlier one is in the history (or gone from it, and then the reply says so).
  std::optional<std::uint64_t> after;
  if (since) after = since->offset;
  std::size_t limit = since ? std::numeric_limits<std::size_t>::max() : 0;
  broker_.history(room, after, limit, [this, conn, id = std::move(id), room, since](cluster::Broker::History history) mutable {
    conn->post([this, conn, id = std::move(id), room = std::move(room), since = std::move(since),
                history = std::move(history)] {
      if (!registry_.contains(conn->id(), room)) return reply_ok(*conn, id);  // left meanwhile
      if (!history.available) {
        registry_.remove(conn->id(), room);
        return refuse_subscribe(*conn, id, room, ErrorCode::unavailable, "cannot subscribe right now; retry later");
      }
      // Joined before the reply, so that a presence request made after it counts this
      // connection (on a cluster node too: its Redis commands go out in order). The join event
      // reaches this connection through its queue, after the reply queued here at once.
      presence_.join(room, conn->id(), conn->identity().user, conn->identity().info);
      std::optional<bool> recovered;
      protocol::StreamPosition from = history.position, told = history.position;
      static const std::vector<cluster::Broker::Entry> kNone;
      const auto* replay = &kNone;
      if (since) {
        recovered = since->epoch == history.position.epoch && history.complete;
        ++(*recovered ? metrics_.recoveries_succeeded : metrics_.recoveries_failed);
        if (*recovered) {
          from.offset = since->offset;
          replay = &history.messages;
        } else if (since->epoch == from.epoch && since->offset > from.offset) {
          // The client saw offsets the room's numbering has not reached (a failover to a replica
          // that lacked the latest messages): it goes on from its own position, so that no
          // other message reaches it under an offset it already had.
          from.offset = told.offset = since->offset;
        }
      }
      conn->subscribed(id, room, told, recovered);
      if (registry_.release(conn, room, from, *replay) == RoomRegistry::ReleaseResult::overflowed) {
        ++metrics_.slow_consumers;
        conn->shutdown(protocol::close_code::slow_consumer, "slow consumer");
      }
    });
  });
}

void Dispatcher::unsubscribe(const std::shared_ptr<Connection>& conn, protocol::Command& req) {
  if (!registry_.remove(conn->id(), req.room))
    return reply_error(*conn, req.id, ErrorCode::not_subscribed, "not subscribed to " + req.room);
  presence_.leave(req.room, conn->id());
  // Through the connection's queue, behind every message of the room already on its way to it:
  // once the client reads this reply, no more messages of the room follow.
  queue_ok(*conn, req.id);
}

void Dispatcher::publish(const std::shared_ptr<Connection>& conn, protocol::Command& req) {
  if (!check(*conn, req.id, auth::RoomAction::publish, req.room)) return;
  if (!conn->publish_bucket().try_take()) {
    ++metrics_.deliveries_dropped_rate_limited;
    return rate_limited(*conn, req.id, limit_message(*conn, true));
  }
  conn->rate_limit_strikes() = 0;
  if (proxy_ && proxy_->wants(AppProxy::Route::publish, req.room)) {
    // Shared, not moved into the handler: the proxy reads the request's fields as it is called.
    auto held = std::make_shared<protocol::Command>(std::move(req));
    proxy_->publish(conn->identity(), conn->id(), held->room, held->data, held->idem,
                    [this, conn, held](AppProxy::Answer answer) {
      after_app(conn, held->id, [this, conn, held, answer = std::move(answer)]() mutable {
        using Verdict = AppProxy::Answer::Verdict;
        if (answer.verdict == Verdict::allowed) {
          if (answer.data) held->data = std::move(*answer.data);
          return send_publish(conn, *held);
        }
        if (answer.verdict == Verdict::denied)
          return reply_error(*conn, held->id, ErrorCode::forbidden,
                             answer.message.empty() ? "refused by the application" : answer.message);
        reply_error(*conn, held->id, ErrorCode::unavailable, "the application did not answer; retry later");
      });
    });
    ++conn->awaiting_app();  // once on its way, as for a subscribe
    return;
  }
  send_publish(conn, req);
}

void Dispatcher::send_publish(const std::shared_ptr<Connection>& conn, protocol::Command& req) {
  ++metrics_.messages_published;
  auto push = protocol::message_push(req.room, req.data, conn->identity().user);
  // What the webhook's message_published needs, kept only when one wants it.
  std::string hooked_room, hooked_data, hooked_from;
  if (webhooks_ && webhooks_->wants_publication(req.room)) {
    hooked_room = req.room;
    hooked_data = std::move(req.data);
    hooked_from = conn->identity().user;  // read here: the ack may run on another thread
  }
  broker_.publish(req.room, std::move(push), [this, conn, id = std::move(req.id), started = std::chrono::steady_clock::now(),
                                              room = std::move(hooked_room), data = std::move(hooked_data),
                                              from = std::move(hooked_from)](
                                                 std::optional<std::uint64_t> offset) {
    // May run on any thread: answer through the connection's queue.
    if (!offset) return queue_error(*conn, id, ErrorCode::unavailable, "message not accepted; retry later");
    // Before the ack: a publisher that has its ack knows the webhooks' event is on its way.
    published(room, from, *offset, data, started);
    if (!id.is_null()) conn->deliver(protocol::make_payload(protocol::publish_reply(id, *offset)));
  }, scoped_idem(req.idem, conn->identity().user, false));
}

void Dispatcher::presence(const std::shared_ptr<Connection>& conn, protocol::Command& req) {
  if (!check(*conn, req.id, auth::RoomAction::presence, req.room)) return;
  if (app_member_only(*conn, req.room))
    return reply_error(*conn, req.id, ErrorCode::forbidden, kMembersOnly + req.room);
  presence_.list(req.room, [this, conn, id = std::move(req.id)](auto members) {
    if (members) {
      if (!id.is_null()) conn->deliver(protocol::make_payload(protocol::presence_reply(id, *members)));
    } else {
      queue_error(*conn, id, ErrorCode::unavailable, "presence is unavailable; retry later");
    }
  });
}

void Dispatcher::refresh(const std::shared_ptr<Connection>& conn, protocol::Command& req) {
  auto result = authenticator_.verify_token(req.token);
  if (auto* rejection = std::get_if<auth::AuthRejection>(&result))
    return reply_error(*conn, req.id, ErrorCode::bad_token, rejection->code + ": " + rejection->message);
  auto& fresh = std::get<auth::Identity>(result);
  if (fresh.user != conn->identity().user)
    return reply_error(*conn, req.id, ErrorCode::forbidden, "the new token is for another user");
  conn->renew(std::move(fresh.permissions), fresh.expires_at);
  // Subscriptions the new token no longer allows end here, each with a push saying so.
  const auto& permissions = conn->identity().permissions;
  for (const auto& sub : registry_.subscriptions_of(conn->id())) {
    bool allowed = permissions.allows(auth::RoomAction::subscribe, sub.room) &&
                   (!sub.presence || permissions.allows(auth::RoomAction::presence, sub.room));
    if (allowed || !registry_.remove(conn->id(), sub.room)) continue;
    presence_.leave(sub.room, conn->id());
    metrics_.count_error(ErrorCode::forbidden);
    conn->deliver(protocol::unsubscribed_push(sub.room, ErrorCode::forbidden,
                                              "the refreshed token no longer allows this subscription"));
  }
  queue_ok(*conn, req.id);
}

void Dispatcher::history(const std::shared_ptr<Connection>& conn, protocol::Command& req) {
  if (!check(*conn, req.id, auth::RoomAction::subscribe, req.room)) return;
  if (app_member_only(*conn, req.room))
    return reply_error(*conn, req.id, ErrorCode::forbidden, kMembersOnly + req.room);
  broker_.history(req.room, std::nullopt, req.limit, [this, conn, id = std::move(req.id)](cluster::Broker::History history) {
    if (!history.available)
      return queue_error(*conn, id, ErrorCode::unavailable, "history is unavailable; retry later");
    if (id.is_null()) return;
    // The reply is one frame in the connection's queue: it holds the newest messages that fit
    // in half of --max-queue-bytes, and says "truncated":true when older ones were left out.
    const std::size_t budget = config_.max_queue_bytes / 2;
    std::size_t bytes = kHistoryReplyOverhead, first = history.messages.size();
    while (first > 0 && bytes + history.messages[first - 1].push->size() + 1 <= budget)
      bytes += history.messages[--first].push->size() + 1;
    std::vector<protocol::Payload> messages;
    messages.reserve(history.messages.size() - first);
    for (std::size_t i = first; i < history.messages.size(); ++i) messages.push_back(std::move(history.messages[i].push));
    if (first > 0) ++metrics_.history_replies_truncated;
    conn->deliver(protocol::make_payload(protocol::history_reply(id, history.position, messages, first > 0)));
  });
}

void Dispatcher::publish_from_backend(const std::string& room, std::string_view data, std::string_view from,
                                      const std::string& idem, cluster::Broker::PublishHandler done) {
  ++metrics_.messages_published;
  // What the webhook's message_published needs, kept only when one wants it; told, as a
  // connection's publish is, before the backend hears the broker took it.
  const bool hooked = webhooks_ && webhooks_->wants_publication(room);
  done = [this, done = std::move(done), started = std::chrono::steady_clock::now(),
          hooked_room = hooked ? room : std::string(), hooked_data = hooked ? std::string(data) : std::string(),
          hooked_from = hooked ? std::string(from) : std::string()](std::optional<std::uint64_t> offset) {
    if (offset) published(hooked_room, hooked_from, *offset, hooked_data, started);
    done(offset);
  };
  broker_.publish(room, protocol::message_push(room, data, from), std::move(done), idem);
}

void Dispatcher::published(const std::string& room, const std::string& from, std::uint64_t offset,
                           const std::string& data, std::chrono::steady_clock::time_point started) {
  if (!data.empty()) webhooks_->message_published(room, from, offset, data);
  metrics_.publish_seconds.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

std::string Dispatcher::scoped_idem(std::string_view idem, std::string_view user, bool api_key) {
  if (idem.empty()) return {};
  // '|' is in no key (protocol::is_valid_idem): the key and its publisher never run into each other.
  std::string scoped(idem);
  if (api_key) return scoped.append("|api");
  return scoped.append("|u:").append(user);
}

void Dispatcher::history_for_backend(const std::string& room, std::size_t limit, cluster::Broker::HistoryHandler done) {
  broker_.history(room, std::nullopt, limit, std::move(done));
}

void Dispatcher::presence_for_backend(const std::string& room, cluster::PresenceStore::ListHandler done) {
  presence_.list(room, std::move(done));
}

}  // namespace switchboard::server
