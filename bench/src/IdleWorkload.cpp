#include "IdleWorkload.h"

#include <boost/asio/io_context.hpp>

#include "Figures.h"
#include "Traffic.h"

namespace switchboard::bench {

IdleWorkload::Params::Params(Options& options)
    : connections(options.size("connections", 5000)),
      rooms(options.size("rooms", 500)),
      quiet(options.milliseconds("quiet-ms", 3000)),
      concurrency(options.size("concurrency", 200)) {}

nlohmann::ordered_json IdleWorkload::measure() {
  boost::asio::io_context ioc(1);
  // The node as started, settled.
  const ProcStats baseline = deployment_.settled_stats();
  Traffic traffic(ioc, deployment_);
  Traffic::Subscribers subscribers;
  subscribers.count = p_.connections;
  subscribers.concurrency = p_.concurrency;
  subscribers.room_of = [&](std::size_t i) { return "bench:idle:" + std::to_string(i % p_.rooms); };
  traffic.open_subscribers(subscribers);
  const ProcStats opened = deployment_.stats();
  // Quiet: nothing sent, the client only keeps reading.
  ClientFleet::run_for(ioc, p_.quiet);
  const ProcStats after = deployment_.stats();

  nlohmann::ordered_json out;
  traffic.subscribers().report_opening(out);
  Figures::connection_cost(out, baseline, opened, "after", after, p_.connections);
  out["other_frames"] = traffic.other_frames + traffic.deliveries;
  traffic.report_clients(out);
  out["node_connections_gauge"] = deployment_.metric("switchboard_connections");
  traffic.close_all();
  return out;
}

}  // namespace switchboard::bench
