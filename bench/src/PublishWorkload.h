// cluster-publish: P publishers spread over R rooms, one subscriber per room (the subscribers
// alternating between the nodes, the publishers on the first), every publisher keeping up to W
// publishes outstanding (unacknowledged, or not yet delivered) for a warm-up and then the
// measured seconds. What it measures is the cost of a publish through Redis: publishes per
// second, and the CPU time per publish of Redis (in all, and per master of a Redis Cluster, over
// the publishes to the rooms that master owns) and of the nodes. It checks that every subscriber
// got every acknowledged offset of its room once, in order.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "CpuMeter.h"
#include "Deployment.h"
#include "Options.h"
#include "Traffic.h"

namespace switchboard::bench {

class PublishWorkload {
 public:
  struct Params {
    std::size_t publishers = 8, rooms = 64;
    std::size_t window = 32;  // per publisher
    double seconds = 5, warmup_seconds = 1;
    std::size_t payload_bytes = 64;
  };

  PublishWorkload(Deployment& deployment, const Params& params);
  // Against started nodes (with Redis: the figures per publish are Redis's).
  nlohmann::ordered_json measure();

 private:
  using Clock = std::chrono::steady_clock;
  struct Publisher {
    std::size_t sent = 0, answered = 0, refused = 0, delivered = 0, turn = 0;
  };
  struct Room {
    std::int64_t sent = 0;
    std::vector<std::int64_t> acked;  // acked[seq]: the offset of its ack; 0 not (yet) acked, -1 refused
    std::vector<std::pair<std::int64_t, std::int64_t>> received;  // (seq, offset), as they came
    std::size_t master = 0;                                          // the Redis master owning it
  };

  static std::string room_name(std::size_t r) { return "bench:publish:" + std::to_string(r); }
  void open_clients();
  // Publisher k sends to its rooms k, k+P, k+2P, … in turn while fewer than `window` of its
  // publishes are outstanding and publishing has not stopped.
  void pump(std::size_t k);
  void on_reply(const Reply& reply);
  void on_delivery(const Delivery& d);
  // Publishes acknowledged (ok) so far, in all and per master.
  std::size_t acked_total() const;
  // The checks and figures.
  void report(nlohmann::ordered_json& out, const CpuMeter& cpu, double elapsed) const;

  Deployment& deployment_;
  const Params& p_;
  boost::asio::io_context ioc_{1};
  Traffic traffic_;
  std::vector<Publisher> pubs_;
  std::vector<Room> rooms_;
  std::size_t masters_ = 1;
  bool stopping_ = false;
  std::size_t refused_ = 0, unknown_replies_ = 0, unknown_deliveries_ = 0;
  std::vector<std::size_t> acked_per_master_, measured_per_master_;
  std::size_t measured_publishes_ = 0;
};

}  // namespace switchboard::bench
