#pragma once
#include <chrono>

namespace switchboard::cluster {

// How a node's connections to Redis wait: to connect, between reconnects (capped exponential
// backoff with full jitter), and for a reply.
struct RedisTiming {
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds backoff_min{50};
  std::chrono::milliseconds backoff_max{2000};
  // A command left unanswered this long means Redis hangs (or the network dropped without a
  // reset): the connection is dropped and made again.
  std::chrono::milliseconds reply_timeout{3000};
};

}  // namespace switchboard::cluster
