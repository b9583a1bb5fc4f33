#pragma once
// The broker carries published messages to every node that has subscribers in the room.
// Embedded default: InProcessBroker. Cluster: a Redis pub/sub implementation.
//
// It also numbers them: each message of a room gets the room's next offset, in the order every
// node delivers them, and the broker keeps the room's recent messages (its history, bounded by a
// HistoryPolicy) so that a client that missed some can read them again.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchboard/protocol/Payload.h"
#include "switchboard/protocol/StreamPosition.h"

namespace boost::asio {
class io_context;
}

namespace switchboard::cluster {

// How long a publish's idempotency key is remembered by default (--idempotency-window).
inline constexpr std::chrono::milliseconds kDefaultIdempotencyWindow = std::chrono::minutes(5);

class Broker {
 public:
  // Called for every message of a room this node subscribes to, with the push bytes
  // serialized once (its "offset" included), the offset and the room's epoch. For one room,
  // calls come in offset order and never overlap. May run on any thread.
  // A null `push` carries no message: the room now stands at {offset, epoch}, and messages
  // before it that this node did not deliver are lost to it (a cluster broker that could not read
  // back what it missed; the room registry tells the subscribers to recover).
  using DeliverHandler = std::function<void(const std::string& room, const protocol::Payload& push,
                                            std::uint64_t offset, std::string_view epoch)>;
  // Called exactly once per publish: the message's offset when the broker accepted it (it will
  // reach every subscribed node), nullopt when it could not (the client gets "unavailable").
  using PublishHandler = std::function<void(std::optional<std::uint64_t> offset)>;

  struct Entry {
    std::uint64_t offset = 0;
    protocol::Payload push;
  };
  struct History {
    bool available = false;  // false: the broker cannot read the room's history now
    protocol::StreamPosition position;  // the room's latest offset, and its epoch
    std::vector<Entry> messages;  // oldest first
    // With `after`: `messages` holds every message after it, up to position.offset.
    bool complete = false;
  };
  using HistoryHandler = std::function<void(History)>;
  // Called once: true when the node receives the room's messages from now on, false when the
  // broker cannot subscribe now (the client gets "unavailable").
  using SubscribedHandler = std::function<void(bool subscribed)>;

  virtual ~Broker();

  // Set once, before the first publish or subscribe.
  virtual void set_deliver_handler(DeliverHandler handler) = 0;
  // Numbers `push` (a message push without its offset), keeps it in the room's history and
  // publishes it to `room` on every node. `done` may be called inline.
  // `idem` (empty: none) is the publish's idempotency key (the server scopes it to the
  // publisher): when a publish with the same key in the room was accepted within the broker's
  // window (on any node of a cluster), `done` gets that publish's offset and nothing is
  // published again.
  virtual void publish(const std::string& room, protocol::Payload push, PublishHandler done,
                       const std::string& idem) = 0;
  void publish(const std::string& room, protocol::Payload push, PublishHandler done) {
    publish(room, std::move(push), std::move(done), std::string());
  }
  // Reads the room's position and messages: with `after`, those after that offset (at most
  // `limit`); without, the latest `limit`. `done` may run inline or on another thread.
  virtual void history(const std::string& room, std::optional<std::uint64_t> after, std::size_t limit,
                       HistoryHandler done) = 0;
  // This node starts (stops) wanting the room's messages. Callers serialize these per room.
  // Never blocks and never calls the deliver handler inline.
  virtual void subscribe(const std::string& room) = 0;
  virtual void unsubscribe(const std::string& room) = 0;
  // Calls `done` once the subscription asked for with subscribe() is in effect (at once when it
  // already is): from then on every message published to the room reaches this node. May run
  // `done` inline or on another thread.
  virtual void when_subscribed(const std::string& room, SubscribedHandler done) {
    (void)room;
    done(true);
  }

  // Connects (a cluster broker) once the node's event loop runs, and disconnects before it stops.
  virtual void start(boost::asio::io_context& ioc) { (void)ioc; }
  virtual void stop() {}
  // Whether the broker can carry messages now: false while a cluster broker cannot reach its backend
  // (GET /readyz answers 503 then).
  virtual bool ready() const { return true; }

  struct Stats {
    bool clustered = false;   // a cluster broker (Redis); the rest means nothing otherwise
    bool connected = false;   // ready()
    std::uint64_t reconnects = 0;  // connections to the backend made again after one was lost
    // Publishes' WAITs (--redis-wait-replicas) that found fewer replicas than asked in time: their
    // messages were refused (unavailable).
    std::uint64_t replica_waits_short = 0;
    // Messages a room's channel brought with an offset the node had already handed on (a master
    // promoted by a failover lacked the room's latest messages and numbered new ones with their
    // offsets, before the node's next script moved the numbering past them): not delivered.
    std::uint64_t stale_messages = 0;
    // Publishes whose idempotency key was known: answered with the first one's offset, not
    // published again.
    std::uint64_t duplicate_publishes = 0;
    // The embedded broker's history (a cluster's is in Redis): bytes kept, and messages evicted
    // to stay within --history-max-bytes.
    std::uint64_t history_bytes = 0;
    std::uint64_t history_evictions = 0;
  };
  virtual Stats stats() const { return {}; }
};

}  // namespace switchboard::cluster
