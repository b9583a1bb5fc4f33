// idle: N connections spread over R rooms, each subscribed (every reply awaited), then a few
// quiet seconds: the node's resident memory per idle connection.
#pragma once

#include <chrono>
#include <cstddef>

#include <nlohmann/json.hpp>

#include "Deployment.h"
#include "Options.h"

namespace switchboard::bench {

class IdleWorkload {
 public:
  struct Params {
    std::size_t connections, rooms;
    std::chrono::milliseconds quiet;
    std::size_t concurrency;  // handshakes in flight

    // --connections, --rooms, --quiet-ms, --concurrency.
    explicit Params(Options& options);
  };

  IdleWorkload(Deployment& deployment, const Params& params) : deployment_(deployment), p_(params) {}
  // Against a started node.
  nlohmann::ordered_json measure();

 private:
  Deployment& deployment_;
  const Params& p_;
};

}  // namespace switchboard::bench
