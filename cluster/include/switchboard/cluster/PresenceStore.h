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
