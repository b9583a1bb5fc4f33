#pragma once
// What the dispatcher and the room registry know of a connection, WebSocket or Server-Sent Events.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "admission/TokenBucket.h"
#include "switchboard/auth/Identity.h"
#include "switchboard/cluster/ConnectionId.h"
#include "switchboard/protocol/Command.h"
#include "switchboard/protocol/ErrorCode.h"
#include "switchboard/protocol/Messages.h"
#include "switchboard/protocol/Payload.h"
#include "switchboard/protocol/StreamPosition.h"

namespace switchboard::server {

class Connection {
 public:
  // publish_bucket and request_bucket: the node's limits; the identity's token limits (on a node
  // with --token-limits) replace what they set.
  Connection(cluster::ConnectionId id, auth::Identity identity, TokenBucket publish_bucket,
             TokenBucket request_bucket)
      : id_(id),
        identity_(std::move(identity)),
        publish_bucket_(publish_bucket),
        request_bucket_(request_bucket) {
    if (const auto& limits = identity_.limits) {
      publish_bucket_ = TokenBucket(limits->publish_rate.value_or(publish_bucket.rate()),
                                    limits->publish_burst.value_or(publish_bucket.burst()));
      request_bucket_ = TokenBucket(limits->request_rate.value_or(request_bucket.rate()),
                                    limits->request_burst.value_or(request_bucket.burst()));
    }
  }
  virtual ~Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  cluster::ConnectionId id() const { return id_; }
  // Read and renewed only on the connection's thread; but user and token_id, which a renewal
  // never changes, may be read from any thread (the server API finds a user's connections so).
  const auth::Identity& identity() const { return identity_; }
  // Only on the connection's thread: a refreshed token's permissions and expiry replace the
  // old ones (user and presence info stay those of the handshake), and the expiry watch restarts.
  void renew(auth::RoomPermissions permissions, std::optional<std::chrono::system_clock::time_point> expires_at) {
    identity_.permissions = std::move(permissions);
    identity_.expires_at = expires_at;
    watch_token_expiry();
  }

  using Clock = std::chrono::steady_clock;

  // Thread-safe: queues a shared frame, handed over at `at` (the start of its delivery latency:
  // one clock reading serves a whole fan-out); it is written after everything queued before.
  virtual void deliver(protocol::Payload frame, Clock::time_point at) = 0;
  void deliver(protocol::Payload frame) { deliver(std::move(frame), Clock::now()); }
  // Thread-safe: like deliver, for a message of `room` numbered `offset` in `epoch`. Connections
  // that keep each room's position (SSE streams, for their event ids) override it.
  virtual void deliver_message(const protocol::Payload& frame, const std::string& room, std::uint64_t offset,
                               std::string_view epoch, Clock::time_point at) {
    (void)room, (void)offset, (void)epoch;
    deliver(frame, at);
  }
  // On the connection's thread, from its thread's FlushQueue: writes what it has queued.
  virtual void flush() {}
  // Only on the connection's own thread (while it handles a request): queues a reply now.
  virtual void reply(std::string text) = 0;
  // The dispatcher's answers to a subscribe, as data: each transport says them its own way. By
  // default (a WebSocket) they are the protocol's replies to request `id`; an SSE stream writes
  // them as events. Only on the connection's thread, in its own handler. `id` is null for a
  // subscribe the node made on the connection's behalf (an SSE stream's rooms) or a request
  // without one.
  // Subscribed to `room`, which stands at `position`; `recovered`, for a subscribe that asked to
  // resume, says whether every message missed since follows (then from the position it asked).
  virtual void subscribed(const nlohmann::json& id, const std::string& room, const protocol::StreamPosition& position,
                          std::optional<bool> recovered) {
    (void)room;
    if (!id.is_null()) reply(protocol::subscribe_reply(id, position, recovered));
  }
  // Not subscribed to `room`: the subscribe was refused with `code` (say forbidden, unavailable).
  virtual void unsubscribed(const nlohmann::json& id, const std::string& room, protocol::ErrorCode code,
                            std::string_view message) {
    (void)room;
    reply(protocol::error_reply(id, code, message));
  }
  // Thread-safe: runs `fn` on the connection's thread, after what is already queued there.
  virtual void post(std::function<void()> fn) = 0;
  // Thread-safe: closes the connection with a WebSocket close code.
  virtual void shutdown(std::uint16_t code, std::string reason) = 0;
  // Thread-safe: drops the connection at once, without a close handshake.
  virtual void abort() = 0;
  // Only on the connection's thread: from identity().expires_at, schedules the refresh push
  // and, if no new token comes, the close with 4001 (replacing what was scheduled before).
  virtual void watch_token_expiry() = 0;

  // Touched only on the connection's thread.
  TokenBucket& publish_bucket() { return publish_bucket_; }
  TokenBucket& request_bucket() { return request_bucket_; }
  // Requests refused with rate_limited in a row (on its thread).
  unsigned& rate_limit_strikes() { return rate_limit_strikes_; }
  // Its requests waiting for the application's answer (the proxy), and the requests that came
  // after them, held in order until those are answered (on its thread).
  unsigned& awaiting_app() { return awaiting_app_; }
  struct HeldRequest {
    protocol::Command request;
    std::size_t bytes = 0;  // its frame's
  };
  std::vector<HeldRequest>& held_requests() { return held_requests_; }
  std::size_t& held_bytes() { return held_bytes_; }

 private:
  cluster::ConnectionId id_;
  auth::Identity identity_;
  TokenBucket publish_bucket_;
  TokenBucket request_bucket_;
  unsigned rate_limit_strikes_ = 0;
  unsigned awaiting_app_ = 0;
  std::vector<HeldRequest> held_requests_;  // a vector: no memory while empty
  std::size_t held_bytes_ = 0;
};

}  // namespace switchboard::server
