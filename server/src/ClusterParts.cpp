#include "ClusterParts.h"

#include "switchboard/cluster/InProcessBroker.h"
#include "switchboard/cluster/InProcessPresenceStore.h"
#include "switchboard/cluster/RedisBroker.h"
#include "switchboard/cluster/RedisPresenceStore.h"
#include "switchboard/server/Log.h"

namespace switchboard::server {

ClusterParts make_cluster_parts(const Config& config) {
  ClusterParts parts;
  if (config.redis.empty()) {
    parts.broker = std::make_unique<cluster::InProcessBroker>(config.history_policy(), config.history_max_bytes);
    parts.presence = std::make_unique<cluster::InProcessPresenceStore>();
    return parts;
  }
  auto address = cluster::RedisAddress::parse(config.redis);
  log::info("cluster: Redis at " + address.describe() + ", prefix \"" + config.redis_prefix + "\"");
  cluster::RedisConnection::Timing timing;
  timing.reply_timeout = std::max<std::chrono::milliseconds>(config.node_timeout / 2, std::chrono::milliseconds(200));
  auto broker = std::make_unique<cluster::RedisBroker>(std::move(address), config.redis_prefix, timing,
                                                  config.history_policy());
  parts.presence = std::make_unique<cluster::RedisPresenceStore>(*broker, config.node_timeout);
  parts.broker = std::move(broker);
  return parts;
}

}  // namespace switchboard::server
