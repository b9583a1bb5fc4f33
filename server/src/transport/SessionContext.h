#pragma once
// What every HTTP, WebSocket, SSE and long-polling session of a node shares.
#include <atomic>
#include <memory>

#include "admission/Admission.h"
#include "admission/ConnectionSlot.h"
#include "admission/KeyedRateLimiter.h"
#include "admission/RefusalLog.h"
#include "dispatch/Dispatcher.h"
#include "http/HttpApi.h"
#include "http/HttpRoutes.h"
#include "observability/Metrics.h"
#include "switchboard/auth/Authenticator.h"
#include "switchboard/auth/OriginPolicy.h"
#include "switchboard/cluster/ConnectionId.h"
#include "switchboard/server/Config.h"
#include "transport/PollRelay.h"
#include "transport/PollSessions.h"

namespace switchboard::server {

struct SessionContext {
  const Config& config;
  Metrics& metrics;
  Dispatcher& dispatcher;
  auth::Authenticator& authenticator;
  HttpRoutes& routes;
  HttpApi& api;
  auth::OriginPolicy origins;
  KeyedRateLimiter handshakes;
  std::size_t max_connections;                // WebSockets and SSE streams at once (resolved: never 0)
  // Accepted upgrades and streams whose session still exists: each holds a ConnectionSlot.
  // Shared: a session destroyed with the event loop, after the node's context, still gives its
  // place back.
  std::shared_ptr<ConnectionSlot::Count> connections = std::make_shared<ConnectionSlot::Count>(0);
  std::atomic<cluster::ConnectionId> next_connection_id{1};
  RefusalLog refusals{};  // refused handshakes, logged at info level, rate-limited
  const DenyList* denied = nullptr;  // the server API's deny-list (set once, before the listeners start)
  PollSessions polls{};  // the long-polling sessions (GET /poll) by id
  PollRelay* relay = nullptr;  // polls of sessions other nodes hold (set once, before the listeners start)

  // The checks of a handshake or stream, on this node's parts.
  Admission admission() { return Admission(handshakes, connections, max_connections, authenticator, denied); }
};

}  // namespace switchboard::server
