#pragma once
// Who is in which room. Presence is per user: "join" when a user's first connection
// enters a room, "leave" when its last one leaves.
// Embedded default: InProcessPresenceStore. Cluster: a Redis implementation.
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "switchboard/cluster/ConnectionId.h"
#include "switchboard/protocol/Messages.h"
#include "switchboard/protocol/Payload.h"

namespace switchboard::cluster {

class PresenceStore {
 public:
  // Called with each serialized join/leave event, in the order they happen for the room.
  // Runs with the store's lock held: the handler must not call back into the store.
  using EventHandler = std::function<void(const std::string& room, const protocol::Payload& event)>;
  // The room's members sorted by user id, or nullopt when the store is unreachable.
  using ListHandler = std::function<void(std::optional<std::vector<protocol::PresenceMember>>)>;

  virtual ~PresenceStore();

  virtual void set_event_handler(EventHandler handler) = 0;
  // A store shared by a cluster (Redis) tells, once for the whole cluster, on the node whose
  // join or leave changed the shared state: a user's first connection in a room joined
  // (`added`) or its last one left; `room_edge` when the room had no member before that join,
  // or has none after that leave. `info` is the user's info as JSON text (empty when unknown: a
  // crashed node's users, reaped by another). Runs on the store's own thread; set before start.
  using MemberHandler = std::function<void(const std::string& room, const std::string& user, const std::string& info,
                                           bool added, bool room_edge)>;
  virtual void set_member_handler(MemberHandler handler) { (void)handler; }
  // Adds a connection to a room; a second join of the same connection changes nothing.
  virtual void join(const std::string& room, ConnectionId conn, const std::string& user,
                    const nlohmann::json& info) = 0;
  // Removes a connection from a room; unknown connections are ignored.
  virtual void leave(const std::string& room, ConnectionId conn) = 0;
  virtual void list(const std::string& room, ListHandler done) = 0;

  // After the broker started, and before it stops (a cluster store's heartbeat).
  virtual void start() {}
  virtual void stop() {}
};

}  // namespace switchboard::cluster
