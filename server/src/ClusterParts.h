#pragma once
// The node's broker and presence store, chosen by its configuration: the embedded in-process
// ones by default, Redis's with --redis.
#include <memory>

#include "switchboard/cluster/Broker.h"
#include "switchboard/cluster/ControlChannel.h"
#include "switchboard/cluster/PresenceStore.h"
#include "switchboard/server/Config.h"

namespace switchboard::server {

struct ClusterParts {
  std::unique_ptr<cluster::Broker> broker;
  std::unique_ptr<cluster::PresenceStore> presence;  // starts after the broker, stops before it
  std::unique_ptr<cluster::ControlChannel> control;  // null: the node alone's (the server API's)
};

ClusterParts make_cluster_parts(const Config& config);

}  // namespace switchboard::server
