#pragma once
// The bus carries published messages to every node that has subscribers in the room.
// Embedded default: InProcessBus. Cluster: a Redis pub/sub implementation.
#include <functional>
#include <string>

#include "switchboard/protocol/Payload.h"

namespace boost::asio {
class io_context;
}

namespace switchboard::cluster {

class Bus {
 public:
  // Called for every message of a room this node subscribes to, with the push bytes
  // serialized once by the publishing node. May run on any thread.
  using DeliverHandler = std::function<void(const std::string& room, const protocol::Payload& push)>;
  // Called exactly once per publish: true when the bus accepted the message (it will reach
  // every subscribed node), false when it could not (the client gets "unavailable").
  using PublishHandler = std::function<void(bool accepted)>;
  // Called once: true when the node receives the room's messages from now on, false when the
  // bus cannot subscribe now (the client gets "unavailable").
  using SubscribedHandler = std::function<void(bool subscribed)>;

  virtual ~Bus();

  // Set once, before the first publish or subscribe.
  virtual void set_deliver_handler(DeliverHandler handler) = 0;
  // Publishes `push` to `room` on every node. `done` may be called inline.
  virtual void publish(const std::string& room, protocol::Payload push, PublishHandler done) = 0;
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

  // Connects (a cluster bus) once the node's event loop runs, and disconnects before it stops.
  virtual void start(boost::asio::io_context& ioc) { (void)ioc; }
  virtual void stop() {}
  // Whether the bus can carry messages now: false while a cluster bus cannot reach its backend
  // (GET /readyz answers 503 then).
  virtual bool ready() const { return true; }
};

}  // namespace switchboard::cluster
