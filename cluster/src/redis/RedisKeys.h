#pragma once
// Every Redis key and channel name of a cluster, and the only place they are built (P = the
// cluster's prefix, --redis-prefix, "switchboard:" by default). Two layouts:
//
//   classic (one Redis: --redis)             tagged (Redis Cluster)          slot
//   P room:<room>             channel        P room:{<room>}                 the room's
//   P history:<room>          hash           P history:{<room>}              the room's
//   P stream:<room>           stream         P stream:{<room>}               the room's
//   P idem:<room>|<key>|<pub> key with TTL   P idem:{<room>}|<key>|<pub>     the room's
//   P presence:<room>:conns   hash           P presence:{<room>}:conns       the room's
//   P presence:<room>:users   hash           P presence:{<room>}:users       the room's
//   P presence:<room>:info    hash           P presence:{<room>}:info        the room's
//   P node:<node>:conns       set            P node:{<node>}:conns           the node's
//   P node:<node>:alive       key with TTL   P {nodes}:alive:<node>          {nodes}
//   P nodes                   set            P {nodes}                       {nodes}
//   P nodes:last-beat         string         P {nodes}:last-beat             {nodes}
//   P nodes:grace             key with TTL   P {nodes}:grace                 {nodes}
//   P control                 channel        P control                       its own
//   P control:<node>          channel        P control:<node>                its own
//   P control:standing        sorted set     P control:standing              its own
//
// The classic names are those of every earlier version: nodes of two versions on one Redis (a
// rolling restart) meet in the same channels and keys. The tagged layout gives every key of a
// room the room as hash tag (HashSlot), so that each script touches the keys of one slot: a
// room's script runs on the master that owns the room. The liveness keys share the one {nodes}
// slot (the heartbeat and the reap's claim read and write them together), and each node's set of
// connections has its node's tag, so that the joins and leaves of many nodes spread over the
// cluster. Room names and node ids hold no brace (protocol RoomName, RandomId); a tagged
// prefix must hold none either, else every key would hash by the prefix's tag.
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::cluster {

class RedisKeys {
 public:
  enum class Layout { classic, tagged };

  // Throws std::invalid_argument when the layout is tagged and the prefix has a '{' or '}'.
  RedisKeys(std::string prefix, Layout layout);

  const std::string& prefix() const { return prefix_; }
  Layout layout() const { return layout_; }

  // A room's channel, and the room of a channel (nullopt: not a room channel of this prefix).
  std::string channel(std::string_view room) const;
  std::optional<std::string> room_of_channel(std::string_view channel) const;
  // A room's history: the hash (epoch, latest offset) and the stream of messages.
  std::string history(std::string_view room) const { return room_key("history:", room, ""); }
  std::string stream(std::string_view room) const { return room_key("stream:", room, ""); }
  // A publish's idempotency key in the room, `key` as the server scoped it to its publisher
  // (set by the publish script for the window; '|' is in no room name, so that the room and the
  // key never run into each other).
  std::string idempotency(std::string_view room, std::string_view key) const {
    return room_key("idem:", room, "|" + std::string(key));
  }
  // A room's presence hashes.
  std::string presence_conns(std::string_view room) const { return room_key("presence:", room, ":conns"); }
  std::string presence_users(std::string_view room) const { return room_key("presence:", room, ":users"); }
  std::string presence_info(std::string_view room) const { return room_key("presence:", room, ":info"); }
  // A node's set of connections in rooms, and its liveness key.
  std::string node_conns(std::string_view node) const;
  std::string node_alive(std::string_view node) const;
  // The cluster's list of nodes, its latest heartbeat, and its grace key.
  std::string nodes() const { return nodes_; }
  std::string nodes_last_beat() const { return nodes_ + ":last-beat"; }
  std::string nodes_grace() const { return nodes_ + ":grace"; }

  // The control channel (every node's), a node's reply channel, and the standing orders
  // (RedisControlChannel). The same names in both layouts: each is used on its own.
  std::string control() const { return prefix_ + "control"; }
  std::string control_replies(std::string_view node) const { return prefix_ + "control:" + std::string(node); }
  std::string control_standing() const { return prefix_ + "control:standing"; }

  // The hash slot every key of the room (and, tagged, its channel) hashes to.
  int slot_of_room(std::string_view room) const;

 private:
  std::string room_key(std::string_view what, std::string_view room, std::string_view suffix) const;

  std::string prefix_;
  Layout layout_;
  std::string nodes_;  // P nodes | P {nodes}
};

}  // namespace switchboard::cluster
