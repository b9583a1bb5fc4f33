#include "switchboard/cluster/RedisCluster.h"

#include "redis/RedisBroker.h"
#include "redis/RedisLink.h"
#include "redis/RedisPresenceStore.h"

namespace switchboard::cluster {

RedisCluster RedisCluster::make(Options options) {
  auto layout = options.key_layout == Options::KeyLayout::tagged ? RedisKeys::Layout::tagged : RedisKeys::Layout::classic;
  auto link = std::make_shared<RedisLink>(std::move(options.address), std::move(options.prefix), options.timing, layout);
  RedisCluster parts;
  parts.broker = std::make_unique<RedisBroker>(link, std::move(options.history));
  parts.presence = std::make_unique<RedisPresenceStore>(link, options.node_timeout);
  return parts;
}

}  // namespace switchboard::cluster
