#include "switchboard/cluster/RedisCluster.h"

#include "redis/RedisBroker.h"
#include "redis/RedisControlChannel.h"
#include "redis/RedisLink.h"
#include "redis/RedisPresenceStore.h"

namespace switchboard::cluster {

RedisCluster RedisCluster::make(Options options) {
  bool sharded = !options.cluster_seeds.empty();
  auto layout = options.key_layout == Options::KeyLayout::tagged || sharded ? RedisKeys::Layout::tagged
                                                                           : RedisKeys::Layout::classic;
  RedisAddress master_auth = options.address;
  auto link = std::make_shared<RedisLink>(std::move(options.address), std::move(options.prefix), options.timing, layout);
  if (sharded) {
    ClusterTopology::Options topology;
    topology.seeds = std::move(options.cluster_seeds);
    topology.timing = options.timing;
    link->shard_over(std::move(topology));
  }
  if (options.sentinel) {
    SentinelResolver::Options sentinel;
    sentinel.sentinels = std::move(options.sentinel->sentinels);
    sentinel.master_name = std::move(options.sentinel->master_name);
    sentinel.master = std::move(master_auth);
    link->follow_sentinels(std::move(sentinel));
  }
  RedisCluster parts;
  parts.broker = std::make_unique<RedisBroker>(link, std::move(options.history),
                                               RedisBroker::Acks{options.wait_replicas, options.wait_timeout},
                                               options.idempotency_window);
  parts.presence = std::make_unique<RedisPresenceStore>(link, options.node_timeout);
  parts.control = std::make_unique<RedisControlChannel>(link);
  return parts;
}

}  // namespace switchboard::cluster
