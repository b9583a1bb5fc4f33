// soak: a bounded soak test (minutes, not hours). Long-lived "witness" subscribers stay connected
// while a publisher publishes continuously and 10,000 short connections are opened and closed
// (20 % of them dropped without a close frame). Afterwards: every acknowledged message reached
// every witness once and in order, the node's descriptors (/proc/<pid>/fd) are back to their
// baseline, and its RSS is back near its baseline. The result's "passed" is false (and the exit
// status 3) when a message was lost, duplicated or reordered, a descriptor leaked, the node died,
// or the run did not get through (see "problems"); RSS is reported (rss_returned), not judged.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "Deployment.h"
#include "Options.h"
#include "SoakChurn.h"
#include "SoakLog.h"
#include "SoakPublisher.h"
#include "SoakWitnesses.h"

namespace switchboard::bench {

class SoakWorkload {
 public:
  struct Params {
    // Throws std::invalid_argument unless --witnesses >= --rooms >= 1.
    explicit Params(Options& options);
    // --connections opened and closed (after --warmup-connections) at --rate per second, at most
    // --max-in-flight at once, --drop-fraction of them dropped, each held at most --hold-ms.
    struct Churn {
      std::size_t connections, warmup_connections;
      double rate;
      std::size_t max_in_flight;
      double drop_fraction;
      std::chrono::milliseconds hold;
    } churn;
    std::size_t witnesses, rooms;
    // The publisher: --publish-rate messages per second of --payload bytes.
    struct Publish {
      double rate;
      std::size_t payload;
    } publish;
    // --settle-ms: how long to wait for the node to return to its baseline; --quiet-ms: the
    // pause before the baseline.
    std::chrono::milliseconds settle, quiet;
  };

  SoakWorkload(Deployment& deployment, const Params& params);
  // Against a started node.
  nlohmann::ordered_json measure();

 private:
  using Clock = std::chrono::steady_clock;
  // The node's figures and the running counts at one moment.
  struct Snapshot {
    long fds = 0;
    ProcStats stats;
    SoakChurn::Counts churn;
    std::int64_t sent = 0;
  };
  // What the end of the soak found.
  struct Ending {
    double churn_seconds = 0;  // negative: the churn did not finish
    ProcStats churned;
    std::int64_t sent_during = 0;
    bool all_answered = false, all_delivered = false, connections_settled = false;
    double node_connections = 0;
    int attempts = 0;  // readings until the node was back at its baseline
    double settle_seconds = 0;
    Snapshot after;
    // At the witnesses and the publisher, once settled.
    std::int64_t lost = 0, duplicates = 0, out_of_order = 0, witness_messages = 0, acked = 0,
                 ack_offset_holes = 0;
    nlohmann::ordered_json node_metrics;
    bool emptied = false, node_alive = false;
    long fds_empty = 0;  // with every connection closed
  };

  Snapshot snapshot();
  // Witnesses subscribed before anything is published, and the publisher; throws if they cannot connect.
  void open_clients();
  // One 1 ms tick: publishes due at --publish-rate, connections due at --rate (at most
  // --max-in-flight at once; late ones are launched later, none is skipped), samples every 50 ms.
  void arm();
  void on_tick(Clock::time_point now);
  // Churns `count` connections; the seconds it took, negative if it did not finish.
  double run_phase(std::size_t count);
  bool wait_for_connections(double n, std::chrono::milliseconds timeout);
  // The same churn and publishing as the soak, so that the baseline is the allocator's steady state.
  void warm_up();
  void soak();
  // Closes are asynchronous: measures until back at the baseline, for up to --settle-ms.
  void settle();
  // Everything closed: the node should be back to its fresh descriptor count.
  void close_everything();
  std::int64_t rss_tolerance() const;
  nlohmann::ordered_json problems() const;
  void report(nlohmann::ordered_json& out);
  nlohmann::ordered_json churn_report() const;
  nlohmann::ordered_json witnesses_report() const;

  Deployment& deployment_;
  const Params& p_;
  const pid_t node_pid_;
  boost::asio::io_context ioc_{1};
  SoakLog log_;
  SoakWitnesses witnesses_;
  SoakPublisher publisher_;
  SoakChurn churn_;
  boost::asio::steady_timer tick_{ioc_};
  bool publishing_ = true, ticking_ = true, sampling_ = false;
  Clock::time_point publish_start_, last_sample_, phase_start_;
  std::size_t phase_target_ = 0, phase_first_ = 0;  // the phase's count, and counts().launched at its start
  std::int64_t rss_peak_ = 0;
  long fds_peak_ = 0;
  Snapshot fresh_, baseline_;
  double warmup_seconds_ = 0;
  std::size_t warmup_opened_ = 0;
  Ending end_;
};

}  // namespace switchboard::bench
