#pragma once
// Presence of a cluster, kept in Redis so that every node lists and announces the same members.
//
// Keys (P = the cluster's prefix):
//   P:presence:<room>:conns  hash  "<node>/<connection>" → user     every connection in the room
//   P:presence:<room>:users  hash  user → number of connections     on all nodes together
//   P:presence:<room>:info   hash  user → info JSON                 from the user's first connection
//   P:node:<node>:conns      set   "<room>\n<node>/<connection>"    what a node registered
//   P:node:<node>:alive      key with a TTL, renewed by the node's heartbeat
//   P:nodes                  set   node ids with presence
// Joins and leaves are Lua scripts: each updates the hashes and, when a user's first connection
// arrives or its last one goes, PUBLISHes the join/leave event on the room's channel (kind 'p'),
// atomically, so every node sees the same events in the same order.
//
// A node that dies (SIGKILL) stops renewing its alive key. Every node checks, each heartbeat,
// for nodes in P:nodes without an alive key and runs the reap script for them: it removes the
// dead node's connections as leaves (with their events). So a dead node's users leave within
// node_timeout plus one heartbeat (node_timeout / 3).
//
// When the command connection comes back after an outage, the node registers its connections
// again (a Redis that restarted empty learns them anew; one that kept them changes nothing)
// and removes those that left meanwhile.
#include <chrono>
#include <map>
#include <set>
#include <string>

#include "switchboard/cluster/PresenceStore.h"
#include "switchboard/cluster/RedisBus.h"

namespace switchboard::cluster {

class RedisPresenceStore final : public PresenceStore {
 public:
  RedisPresenceStore(RedisBus& bus, std::chrono::milliseconds node_timeout);
  ~RedisPresenceStore() override;

  void set_event_handler(EventHandler handler) override;
  void join(const std::string& room, ConnectionId conn, const std::string& user,
            const nlohmann::json& info) override;
  void leave(const std::string& room, ConnectionId conn) override;
  void list(const std::string& room, ListHandler done) override;
  void start() override;
  void stop() override;

  const std::string& node_id() const { return node_id_; }

 private:
  struct Entry {
    std::string user;
    std::string info;  // JSON text
  };
  using Key = std::pair<std::string, ConnectionId>;  // room, connection

  void send_join(const std::string& room, ConnectionId conn, const Entry& entry);
  // `replayed`: a leave sent again after an outage, with the user it was for.
  void send_leave(const std::string& room, ConnectionId conn, const Entry* replayed);
  void heartbeat();
  void resync();
  std::string field(ConnectionId conn) const { return node_id_ + "/" + std::to_string(conn); }
  std::string key(const std::string& room, const char* what) const;

  RedisBus& bus_;
  std::chrono::milliseconds node_timeout_;
  std::string node_id_;
  EventHandler on_event_;
  // On the bus's strand: this node's connections in rooms, and leaves Redis has not confirmed.
  std::map<Key, Entry> local_;
  std::map<Key, Entry> unconfirmed_leaves_;
  std::unique_ptr<boost::asio::steady_timer> timer_;
  bool stopped_ = false;
};

}  // namespace switchboard::cluster
