#pragma once
// Presence of a cluster, kept in Redis so that every node lists and announces the same members.
// It works through the node's RedisLink (shared with the broker): the link's strand runs all of
// it, its scripts are the link's, and its events arrive on the room channels the broker subscribes.
//
// Keys (RedisKeys; the classic layout's names, P = the cluster's prefix):
//   P presence:<room>:conns  hash  "<node>/<connection>" → user     every connection in the room
//   P presence:<room>:users  hash  user → number of connections     on all nodes together
//   P presence:<room>:info   hash  user → info JSON                 from the user's first connection
//   P node:<node>:conns      set   "<room>\n<node>/<connection>"    what a node registered
//   P node:<node>:alive      key with a TTL, renewed by the node's heartbeat
//   P nodes                  set   node ids with presence
//   P nodes:last-beat        the latest heartbeat of any node (Redis's clock, ms; no TTL)
//   P nodes:grace            key with a TTL: no node is reaped while it exists
// Every script touches the keys of one hash slot only (in a Redis Cluster's tagged layout: the
// room's, the node's, or {nodes}). A join adds the connection to the node's set (SADD), then
// runs the room's script; a leave runs the room's script, then removes it from the set (SREM):
// a node that dies between the two leaves an entry the reap finds. The room's scripts update the
// hashes and, when a user's first connection arrives or its last one goes, PUBLISH the join/leave
// event on the room's channel (kind 'p'), atomically, so every node sees the same events in the
// same order. The events are written by protocol/ (presence_event; a leave around the info Redis
// keeps, leave_event_slot): the scripts move bytes, and every key they touch is given to them in
// KEYS. Only the heartbeat registers the node (its alive key, P nodes); it goes ahead of the
// joins when the node starts and whenever it registers its connections again.
//
// A node that dies (SIGKILL) stops renewing its alive key. Every node checks, each heartbeat,
// for nodes in P nodes without an alive key and reaps them: it claims the node (listed, no
// alive key, no grace), reads its set of connections, then removes each as a leave (with its
// event) and from the set, then takes the node out of P nodes once its set reads empty (what a
// lost connection left undone, the next heartbeat does). So a dead node's users leave within
// node_timeout plus one heartbeat (node_timeout / 3). A node whose alive key ran out registers
// its connections again on its next heartbeat, as one that Redis no longer lists does: it may
// have been reaped (or be being reaped: its users may then leave and join again).
//
// When the command connection comes back after an outage, the node registers its connections
// again (a Redis that restarted empty learns them anew; one that kept them changes nothing) at
// once; so does a heartbeat that finds the node missing from P nodes (Redis forgot it, or
// another node reaped it while it could not reach Redis). The connections that left meanwhile
// are removed only once every live node had the time to register its own again (the settling
// time: node_timeout plus twice the longest reconnect backoff): a user who left through one
// connection but is still there through another, on a node not yet back, gets no leave. For the
// same reason a node reaps no other node during its settling time; and when no node at all has
// beaten for two heartbeat intervals (Redis hung, and every liveness key ran out at once — the
// heartbeats and reaps queued meanwhile run when it answers again), Redis itself holds off every
// reap for a settling time (P nodes:grace).
//
// What this node's subscribers are shown: per room, whether each user was last announced as
// joined or left. A join of a user shown present (a node registering its connections again
// after Redis restarted empty) and a leave of a user shown gone (two nodes replaying leaves of
// the same user) are not passed on: every leave follows a join of its user, and a connection
// that stayed connected through an outage produces no event. Forgotten when the node
// unsubscribes the room (and a leave after ten minutes).
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <unordered_map>

#include "redis/RedisBackoff.h"
#include "redis/RedisLink.h"
#include "switchboard/cluster/PresenceStore.h"

namespace switchboard::cluster {

class RedisPresenceStore final : public PresenceStore {
 public:
  // Starts after the link (the broker starts it), stops before it.
  RedisPresenceStore(std::shared_ptr<RedisLink> link, std::chrono::milliseconds node_timeout);
  ~RedisPresenceStore() override;

  void set_event_handler(EventHandler handler) override;
  void set_member_handler(MemberHandler handler) override { on_member_ = std::move(handler); }
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
  // `replayed`: a leave sent again after an outage.
  void send_leave(const std::string& room, ConnectionId conn, const Entry& entry, bool replayed);
  void heartbeat();
  void beat(bool resyncing);
  // Reaping the nodes presumed dead (one pass per heartbeat).
  struct Reaping {
    std::string node;
    std::size_t waiting = 0;  // connections whose user is not read yet
    long long reaped = 0;     // connections that left
  };
  void reap();
  void reap_node(const std::string& node);
  void reap_connection(std::shared_ptr<Reaping> reaping, const std::string& member);
  void unlist(std::shared_ptr<Reaping> reaping);
  // Registers the node and its connections again: those `serves` names (null: all of them).
  void resync(const RedisLink::Serves* serves = nullptr);
  void replay_leaves();
  // A heartbeat, join or leave Redis refused (an error answer: a Redis Cluster's master answers
  // CLUSTERDOWN for a while after it restarted) is sent again after a backoff, until Redis takes
  // it: refused() schedules retry_refused().
  void refused(std::string_view error);
  void retry_refused();
  // Whether this node's subscribers are to be shown a presence event (and notes it).
  bool show(const std::string& room, const protocol::Payload& event);
  void forget_old_leaves();
  std::string field(ConnectionId conn) const { return node_id_ + "/" + std::to_string(conn); }
  const RedisKeys& keys() const { return link_->keys(); }
  std::chrono::milliseconds settling_time() const { return node_timeout_ + 2 * link_->timing().backoff_max; }

  std::shared_ptr<RedisLink> link_;
  std::chrono::milliseconds node_timeout_;
  std::string node_id_;
  EventHandler on_event_;
  MemberHandler on_member_;  // set before start, called on the strand
  // On the link's strand: this node's connections in rooms, and leaves Redis has not confirmed.
  std::map<Key, Entry> local_;
  std::map<Key, Entry> unconfirmed_leaves_;
  std::unique_ptr<boost::asio::steady_timer> timer_;
  std::unique_ptr<boost::asio::steady_timer> replay_timer_;  // replays leaves once settled
  std::set<Key> refused_joins_, refused_leaves_;
  bool beat_refused_ = false;
  std::unique_ptr<boost::asio::steady_timer> retry_timer_;
  bool retry_armed_ = false;
  RedisBackoff retry_backoff_;
  std::chrono::steady_clock::time_point settled_at_{};       // end of the settling time
  bool registered_ = false;  // a heartbeat found this node in P nodes
  bool resynced_before_ = false;
  bool started_ = false;  // on the strand, from start()
  bool stopped_ = false;
  struct Shown {
    bool present = false;
    std::chrono::steady_clock::time_point at;
  };
  std::unordered_map<std::string, std::unordered_map<std::string, Shown>> shown_;  // room → user
};

}  // namespace switchboard::cluster
