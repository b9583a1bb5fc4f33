// churn: connections opened and closed at a fixed rate for some seconds (each one connects,
// subscribes, waits for the reply, closes): the handshakes per second achieved, and whether the
// node's memory returns to its baseline afterwards (before / peak / after, per round).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "BenchClient.h"
#include "Deployment.h"
#include "Options.h"

namespace switchboard::bench {

class ChurnWorkload {
 public:
  struct Params {
    // --rate (connections per second), --seconds, --rounds, --max-in-flight, --rooms, --quiet-ms.
    explicit Params(Options& options);
    double rate, seconds;
    int rounds;
    std::size_t max_in_flight, rooms;
    std::chrono::milliseconds quiet;
  };

  ChurnWorkload(Deployment& deployment, const Params& params);
  // Against a started node.
  nlohmann::ordered_json measure();

 private:
  using Clock = std::chrono::steady_clock;
  // The counts of one round.
  struct Round {
    std::size_t launched = 0, handshakes = 0, cycles = 0, failed = 0, skipped = 0, in_flight = 0, index = 0;
    std::int64_t peak_rss = 0;
    ProcStats before;
    Clock::time_point start, stop_at;
  };

  // Churns for --seconds, then waits for the node to let go of every connection and a quiet
  // moment; false if connections were still open after 20 s (their handlers refer to the round).
  bool run_round();
  // Every millisecond: launches the connections due by now at the fixed rate (skipping those
  // over --max-in-flight), and samples RSS every 50 ms.
  void arm();
  void on_tick(Clock::time_point now);
  // A connection's life: open, subscribe, on the reply close; done once the close completes.
  void launch();
  void on_closed(BenchClient& c, const boost::system::error_code& ec);
  nlohmann::ordered_json round_report(double elapsed, const ProcStats& churned, const ProcStats& after) const;
  void report(nlohmann::ordered_json& out) const;

  Deployment& deployment_;
  const Params& p_;
  boost::asio::io_context ioc_{1};
  boost::asio::steady_timer tick_{ioc_};
  Clock::time_point last_sample_;
  Round round_;
  ProcStats baseline_;
  nlohmann::ordered_json round_reports_ = nlohmann::ordered_json::array();
  std::map<std::string, std::size_t> errors_;
  std::int64_t peak_rss_ = 0;
  std::size_t total_handshakes_ = 0, total_cycles_ = 0;
  double total_seconds_ = 0;
};

}  // namespace switchboard::bench
