#pragma once
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "switchboard/cluster/PresenceStore.h"

namespace switchboard::cluster {

// Presence of a single node, kept in memory.
class InProcessPresenceStore final : public PresenceStore {
 public:
  void set_event_handler(EventHandler handler) override;
  void join(const std::string& room, ConnectionId conn, const std::string& user,
            const nlohmann::json& info) override;
  void leave(const std::string& room, ConnectionId conn) override;
  void list(const std::string& room, ListHandler done) override;

 private:
  struct Member {
    nlohmann::json info;  // from the user's first connection in the room
    std::unordered_set<ConnectionId> conns;
  };
  struct Room {
    std::unordered_map<std::string, Member> members;        // user → member
    std::unordered_map<ConnectionId, std::string> users;     // connection → user
  };

  std::mutex mutex_;
  std::unordered_map<std::string, Room> rooms_;
  EventHandler on_event_;
};

}  // namespace switchboard::cluster
