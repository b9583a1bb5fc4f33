#include "switchboard/server/Components.h"

#include "switchboard/cluster/InProcessBus.h"
#include "switchboard/cluster/InProcessPresenceStore.h"
#include "switchboard/cluster/RedisBus.h"
#include "switchboard/server/Log.h"

namespace switchboard::server {

std::unique_ptr<cluster::Bus> make_bus(const Config& config) {
  if (config.redis.empty()) return std::make_unique<cluster::InProcessBus>();
  auto address = cluster::RedisAddress::parse(config.redis);
  log::info("cluster bus: Redis pub/sub at " + address.describe() + ", prefix \"" + config.redis_prefix + "\"");
  return std::make_unique<cluster::RedisBus>(std::move(address), config.redis_prefix);
}

std::unique_ptr<cluster::PresenceStore> make_presence_store(const Config&) {
  // Presence stays per node until the Redis presence store lands.
  return std::make_unique<cluster::InProcessPresenceStore>();
}

}  // namespace switchboard::server
