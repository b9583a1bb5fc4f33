// latency: P publishers at a fixed total rate across R rooms, N subscribers spread over the
// rooms. Every message carries its send time (steady_clock; both ends are this process), so each
// delivery gives one end-to-end latency sample: p50/p99/p99.9, plus the node's CPU time.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "CpuMeter.h"
#include "Deployment.h"
#include "LatencyRecorder.h"
#include "Options.h"
#include "Traffic.h"

namespace switchboard::bench {

class LatencyWorkload {
 public:
  struct Params {
    Params() = default;
    // --subscribers, --rooms, --publishers, --rate, --seconds, --warmup (seconds), --payload.
    explicit Params(Options& options);

    std::size_t subscribers = 200;
    std::size_t rooms = 10;
    std::size_t publishers = 10;
    double rate = 1000;  // messages per second, all publishers together
    double seconds = 10;
    double warmup_seconds = 1;  // sent, checked, not sampled
    std::size_t payload_bytes = 64;
  };

  LatencyWorkload(Deployment& deployment, const Params& params);
  // Against started node(s): subscribers spread round-robin over the nodes, publishers on node 0.
  nlohmann::ordered_json measure();

 private:
  using Clock = std::chrono::steady_clock;
  // Publisher k's timer and its next send time.
  struct Publisher {
    std::unique_ptr<boost::asio::steady_timer> timer;
    Clock::time_point next;
    std::size_t turn = 0;
  };

  static std::string room_name(std::size_t r) { return "bench:latency:" + std::to_string(r); }
  void open_clients();
  // Publisher k sends to rooms k, k+P, k+2P, … in turn, every P/rate seconds, the publishers
  // staggered evenly over that period: messages leave at a steady total rate.
  void start_publishers();
  void arm(std::size_t k);
  void publish(std::size_t k, Clock::time_point now);
  // Runs until the publishers are done and what they sent has come; returns the seconds it took.
  double run_publishers();
  // Deliveries due for what was sent: each message to every subscriber of its room.
  std::size_t expected() const;
  void report(nlohmann::ordered_json& out, const CpuMeter& cpu, double elapsed);

  Deployment& deployment_;
  const Params& p_;
  boost::asio::io_context ioc_{1};
  Traffic traffic_;
  LatencyRecorder latencies_;
  std::int64_t record_from_ns_ = INT64_MAX;
  std::vector<std::size_t> subscribers_in_, sent_to_;
  std::vector<Publisher> pubs_;
  Clock::duration period_{};
  Clock::time_point start_, stop_at_;
  std::int64_t max_lag_ns_ = 0;
  std::size_t published_ = 0, publishers_done_ = 0, expected_ = 0;
};

}  // namespace switchboard::bench
