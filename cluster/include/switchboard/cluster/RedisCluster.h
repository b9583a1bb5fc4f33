#pragma once
// A node's parts in a cluster on Redis: its broker, its presence store and its control channel
// (the server API's, which starts after the presence store and stops before it). All work through one
// RedisLink (the node's connections to Redis, the strand that runs every Redis call, and the Lua
// scripts), which each holds a share of: neither uses the other, and they may go in any order.
//
// The link connects when the broker starts (Broker::start gives it the event loop) and
// disconnects when the broker stops; the presence store starts after the broker and stops before
// it, as every PresenceStore does.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "switchboard/cluster/Broker.h"
#include "switchboard/cluster/ControlChannel.h"
#include "switchboard/cluster/HistoryPolicy.h"
#include "switchboard/cluster/PresenceStore.h"
#include "switchboard/cluster/RedisAddress.h"
#include "switchboard/cluster/RedisTiming.h"

namespace switchboard::cluster {

struct RedisCluster {
  // A Redis master watched by Sentinel (--redis-sentinel): the node follows it across failovers.
  struct Sentinel {
    std::vector<RedisAddress> sentinels;  // tried in this order (host, port and password of each)
    std::string master_name;              // as the sentinels monitor it
  };
  struct Options {
    // Redis; with `sentinel`, only its password and db are used (the sentinels name the master).
    RedisAddress address;
    std::optional<Sentinel> sentinel;
    // A Redis Cluster (--redis-cluster): the nodes to learn it from (host, port and password of
    // each; the password is every node's). Its keys and channels are tagged (key_layout is not
    // used), rooms are spread over its masters by hash slot, and messages cross sharded channels.
    std::vector<RedisAddress> cluster_seeds;
    std::string prefix;  // of every key and channel of the cluster
    RedisTiming timing;
    HistoryPolicy history;
    // A node whose heartbeat stops this long is presumed dead: its users leave.
    std::chrono::milliseconds node_timeout{6000};
    // How keys and channels are named: classic, the names of one Redis (every earlier version's,
    // so that a rolling restart keeps working); tagged, every key of a room with the room as
    // hash tag, one slot per room script, as with cluster_seeds; tests choose it on one Redis too.
    // Throws std::invalid_argument (from make) for a tagged layout with a '{' or '}' in the prefix.
    enum class KeyLayout { classic, tagged };
    KeyLayout key_layout = KeyLayout::classic;
    // --redis-wait-replicas: a publish is acked only once this many replicas have it (WAIT after
    // the publish script; fewer within wait_timeout: the publisher hears unavailable). 0: no WAIT.
    unsigned wait_replicas = 0;
    std::chrono::milliseconds wait_timeout{200};
    // --idempotency-window: how long a publish's idempotency key stays in Redis.
    std::chrono::milliseconds idempotency_window = kDefaultIdempotencyWindow;
  };
  static RedisCluster make(Options options);

  std::unique_ptr<Broker> broker;
  std::unique_ptr<PresenceStore> presence;
  std::unique_ptr<ControlChannel> control;
};

}  // namespace switchboard::cluster
