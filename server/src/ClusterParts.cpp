#include "ClusterParts.h"

#include "switchboard/cluster/InProcessBroker.h"
#include "switchboard/cluster/InProcessPresenceStore.h"
#include "switchboard/cluster/RedisCluster.h"
#include "switchboard/server/Log.h"

namespace switchboard::server {

ClusterParts make_cluster_parts(const Config& config) {
  ClusterParts parts;
  if (!config.clustered()) {
    parts.broker = std::make_unique<cluster::InProcessBroker>(config.history_policy(), config.history_max_bytes,
                                                              config.idempotency_window);
    parts.presence = std::make_unique<cluster::InProcessPresenceStore>();
    return parts;
  }
  cluster::RedisCluster::Options options;
  if (!config.redis_cluster.empty()) {
    options.cluster_seeds = config.cluster_seeds();
    std::string list;
    for (const auto& s : options.cluster_seeds) list += (list.empty() ? "" : ", ") + s.describe();
    log::info("cluster: a Redis Cluster found from " + list + ", prefix \"" + config.redis_prefix + "\"");
  } else if (config.redis_sentinel.empty()) {
    options.address = cluster::RedisAddress::parse(config.redis);
    log::info("cluster: Redis at " + options.address.describe() + ", prefix \"" + config.redis_prefix + "\"");
  } else {
    options.sentinel = cluster::RedisCluster::Sentinel{config.sentinel_addresses(), config.redis_sentinel_master};
    std::string list;
    for (const auto& s : options.sentinel->sentinels) list += (list.empty() ? "" : ", ") + s.describe();
    log::info("cluster: Redis master \"" + config.redis_sentinel_master + "\" as named by the sentinels " + list +
              ", prefix \"" + config.redis_prefix + "\"");
  }
  if (!config.redis_password.empty()) options.address.password = config.redis_password;
  options.wait_replicas = config.redis_wait_replicas;
  options.wait_timeout = config.redis_wait_timeout;
  options.prefix = config.redis_prefix;
  options.timing.reply_timeout =
      std::max<std::chrono::milliseconds>(config.node_timeout / 2, std::chrono::milliseconds(200));
  options.history = config.history_policy();
  options.node_timeout = config.node_timeout;
  options.idempotency_window = config.idempotency_window;
  auto redis = cluster::RedisCluster::make(std::move(options));
  parts.broker = std::move(redis.broker);
  parts.presence = std::move(redis.presence);
  parts.control = std::move(redis.control);
  return parts;
}

}  // namespace switchboard::server
