#include "IdleWorkload.h"

#include <boost/asio/io_context.hpp>
#include <cmath>
#include <thread>

#include "ClientFleet.h"
#include "Deployment.h"

namespace switchboard::bench {

nlohmann::ordered_json IdleWorkload::run(Options& options) {
  const auto connections = static_cast<std::size_t>(options.integer("connections", 5000));
  const auto rooms = static_cast<std::size_t>(options.integer("rooms", 500));
  const auto quiet = std::chrono::milliseconds(options.integer("quiet-ms", 3000));
  const auto concurrency = static_cast<std::size_t>(options.integer("concurrency", 200));
  Deployment deployment(options);
  options.reject_unknown();
  deployment.start(1);

  boost::asio::io_context ioc(1);
  // The node as started, settled.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const ProcStats baseline = deployment.stats();
  std::size_t other_frames = 0;

  ClientFleet fleet(ioc);
  ClientFleet::Plan plan;
  plan.count = connections;
  plan.concurrency = concurrency;
  plan.endpoint_of = [&](std::size_t) { return deployment.endpoint(0); };
  plan.room_of = [&](std::size_t i) { return "bench:idle:" + std::to_string(i % rooms); };
  plan.on_frame = [&](BenchClient&, std::string_view) { ++other_frames; };
  fleet.open(plan);
  const ProcStats opened = deployment.stats();
  // Quiet: nothing sent, the client only keeps reading.
  ClientFleet::run_until(
      ioc, [] { return false; }, quiet);
  const ProcStats after = deployment.stats();

  nlohmann::ordered_json out;
  out["connections_ready"] = fleet.ready();
  out["failed"] = fleet.failed();
  out["open_s"] = std::round(fleet.last_open_seconds() * 1000) / 1000;
  out["handshakes_per_s"] = std::round(static_cast<double>(fleet.ready()) / fleet.last_open_seconds());
  out["node_rss_kib_baseline"] = baseline.rss_kib;
  out["node_rss_kib_opened"] = opened.rss_kib;
  out["node_rss_kib_after"] = after.rss_kib;
  out["kib_per_connection"] = std::round(static_cast<double>(after.rss_kib - baseline.rss_kib) /
                                         static_cast<double>(connections) * 100) /
                              100;
  out["node_cpu_us_per_connection_open"] = std::round(static_cast<double>(opened.cpu_us - baseline.cpu_us) /
                                                      static_cast<double>(connections) * 10) /
                                           10;
  out["other_frames"] = other_frames;
  out["unexpected_closes"] = fleet.unexpected_closes();
  out["client_errors"] = fleet.errors();
  out["node_metrics"] = deployment.metrics_report();
  out["node_connections_gauge"] = deployment.metric("switchboard_connections");
  fleet.close_all();
  out["deployment"] = deployment.describe();
  out["node_exit"] = deployment.stop();
  return out;
}

}  // namespace switchboard::bench
