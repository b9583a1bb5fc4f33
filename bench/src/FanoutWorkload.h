// fanout: one publisher, N subscribers in one room, M messages of S bytes, at most W messages
// outstanding (unacknowledged, or not yet delivered to every subscriber). Measures deliveries
// per second and the node's CPU time per delivery; checks that nothing is lost and that every
// subscriber sees the messages in order.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "CpuMeter.h"
#include "Deployment.h"
#include "Options.h"
#include "Traffic.h"

namespace switchboard::bench {

class FanoutWorkload {
 public:
  struct Params {
    std::size_t subscribers = 1000, messages = 5000;
    std::size_t payload_bytes = 64;
    std::size_t window = 100;
    std::chrono::seconds timeout{120};

    Params() = default;
    // --subscribers, --messages, --payload, --window, --timeout (seconds).
    explicit Params(Options& options);
  };

  FanoutWorkload(Deployment& deployment, const Params& params);
  // Against started node(s): subscribers spread round-robin over the nodes, the publisher on node 0.
  nlohmann::ordered_json measure();

 private:
  using Clock = std::chrono::steady_clock;
  // A delivery to a subscriber: once every subscriber has the oldest outstanding message(s),
  // more may go out.
  void on_delivery(const Delivery& d);
  // Publishes while fewer than `window` messages are outstanding.
  void pump();
  // Publishes every message; true if all came back before progress stopped for 10 s or the timeout.
  bool publish_all();
  void report(nlohmann::ordered_json& out, bool finished, const CpuMeter& cpu, double elapsed) const;

  Deployment& deployment_;
  const Params& p_;
  boost::asio::io_context ioc_{1};
  Traffic traffic_;
  const std::string room_ = "bench:fanout";
  // Per message, how many subscribers have it; `completed_` counts the messages every subscriber has.
  std::vector<std::uint32_t> delivered_;
  std::size_t completed_ = 0, sent_ = 0;
  Clock::time_point started_, last_delivery_, last_progress_;
  BenchClient* publisher_ = nullptr;
};

}  // namespace switchboard::bench
