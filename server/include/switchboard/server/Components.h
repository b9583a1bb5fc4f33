#pragma once
// The node's bus and presence store, chosen by its configuration: the embedded in-process
// ones by default, Redis's with --redis.
#include <memory>

#include "switchboard/cluster/Bus.h"
#include "switchboard/cluster/PresenceStore.h"
#include "switchboard/server/Config.h"

namespace switchboard::server {

std::unique_ptr<cluster::Bus> make_bus(const Config& config);
std::unique_ptr<cluster::PresenceStore> make_presence_store(const Config& config);

}  // namespace switchboard::server
