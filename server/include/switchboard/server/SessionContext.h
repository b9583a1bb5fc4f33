#pragma once
// What every HTTP and WebSocket session of a node shares.
#include <atomic>

#include "switchboard/auth/Authenticator.h"
#include "switchboard/auth/OriginPolicy.h"
#include "switchboard/cluster/ConnectionId.h"
#include "switchboard/server/Broker.h"
#include "switchboard/server/Config.h"
#include "switchboard/server/HttpApi.h"
#include "switchboard/server/HttpRoutes.h"
#include "switchboard/server/Metrics.h"

namespace switchboard::server {

struct SessionContext {
  const Config& config;
  Metrics& metrics;
  Broker& broker;
  auth::Authenticator& authenticator;
  HttpRoutes& routes;
  HttpApi& api;
  auth::OriginPolicy origins;
  std::atomic<cluster::ConnectionId> next_connection_id{1};
};

}  // namespace switchboard::server
