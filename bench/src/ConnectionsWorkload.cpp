#include "ConnectionsWorkload.h"

#include <sys/resource.h>

#include "Figures.h"

namespace switchboard::bench {

ConnectionsWorkload::Params::Params(Options& options)
    : connections(options.size("connections", 19000)),
      rooms(options.size("rooms", 190)),
      per_room(options.size("messages-per-room", 3)),
      messages(rooms * per_room),
      payload(options.size("payload", 64)),
      window(options.size("window", 50)),
      concurrency(options.size("concurrency", 200)) {}

ConnectionsWorkload::ConnectionsWorkload(Deployment& deployment, const Params& params)
    : deployment_(deployment), p_(params), traffic_(ioc_, deployment) {}

nlohmann::ordered_json ConnectionsWorkload::measure() {
  nlohmann::ordered_json out;
  check_fd_limit(out);
  baseline_ = deployment_.settled_stats();
  Traffic::Subscribers subscribers;
  subscribers.count = p_.connections;
  subscribers.concurrency = p_.concurrency;
  subscribers.timeout = std::chrono::seconds(300);
  subscribers.room_of = [&](std::size_t i) { return room_name(i % p_.rooms); };
  traffic_.open_subscribers(subscribers);
  opened_ = deployment_.stats();
  ClientFleet::run_for(ioc_, std::chrono::seconds(2));
  settled_ = deployment_.stats();

  traffic_.open_publishers(1, [&](const Reply&) { pump(); });
  const std::size_t expected = subscribed() * p_.per_room;
  publish_to_every_room(expected);
  report(out, expected, received_all());
  traffic_.close_all(std::chrono::seconds(30));
  return out;
}

void ConnectionsWorkload::check_fd_limit(nlohmann::ordered_json& out) const {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  out["fd_limit"] = limit.rlim_cur;
  // The client holds one descriptor per connection, the publisher's, and a handful of its own.
  if (limit.rlim_cur < p_.connections + 16) out["warning"] = "fd limit below the connections wanted";
}

void ConnectionsWorkload::publish_to_every_room(std::size_t expected) {
  if (traffic_.publishers().ready() != 1) return;
  publisher_ = traffic_.publishers().clients().front().get();
  pump();
  ClientFleet::run_until(
      ioc_, [&] { return traffic_.deliveries >= expected && traffic_.acked == p_.messages; },
      std::chrono::seconds(60));
  ClientFleet::run_for(ioc_, std::chrono::milliseconds(300));
}

void ConnectionsWorkload::pump() {
  while (sent_ < p_.messages && sent_ - traffic_.acked < p_.window) {
    std::size_t r = sent_ % p_.rooms, seq = sent_ / p_.rooms + 1;
    publisher_->send(publish_frame(room_name(r), static_cast<std::int64_t>(seq), now_ns(), p_.payload));
    ++sent_;
  }
}

std::size_t ConnectionsWorkload::subscribed() {
  std::size_t n = 0;
  for (auto& c : traffic_.subscribers().clients())
    n += c->subscribed && c->state() == BenchClient::State::open;
  return n;
}

std::size_t ConnectionsWorkload::received_all() {
  std::size_t n = 0;
  for (auto& c : traffic_.subscribers().clients())
    n += c->state() == BenchClient::State::open && c->received == static_cast<std::int64_t>(p_.per_room);
  return n;
}

void ConnectionsWorkload::report(nlohmann::ordered_json& out, std::size_t expected,
                                 std::size_t received_all) const {
  traffic_.subscribers().report_opening(out);
  out["published"] = sent_;
  out["publish_errors"] = traffic_.publish_errors;
  out["deliveries"] = traffic_.deliveries;
  out["expected"] = expected;
  out["lost"] = static_cast<std::int64_t>(expected) - static_cast<std::int64_t>(traffic_.deliveries);
  out["connections_received_all"] = received_all;
  out["order_errors"] = traffic_.order_errors;
  out["other_frames"] = traffic_.other_frames;
  Figures::connection_cost(out, baseline_, opened_, "settled", settled_, p_.connections);
  traffic_.report_clients(out);
  out["node_connections_gauge"] = deployment_.metric("switchboard_connections");
}

}  // namespace switchboard::bench
