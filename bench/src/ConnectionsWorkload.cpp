#include "ConnectionsWorkload.h"

#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <cmath>
#include <thread>

#include "ClientFleet.h"
#include "Deployment.h"
#include "Payload.h"

namespace switchboard::bench {

using Clock = std::chrono::steady_clock;

nlohmann::ordered_json ConnectionsWorkload::run(Options& options) {
  const auto connections = static_cast<std::size_t>(options.integer("connections", 19000));
  const auto rooms = static_cast<std::size_t>(options.integer("rooms", 190));
  const auto per_room = static_cast<std::size_t>(options.integer("messages-per-room", 3));
  const auto payload = static_cast<std::size_t>(options.integer("payload", 64));
  const auto window = static_cast<std::size_t>(options.integer("window", 50));
  const auto concurrency = static_cast<std::size_t>(options.integer("concurrency", 200));
  Deployment deployment(options);
  options.reject_unknown();

  nlohmann::ordered_json out;
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  out["fd_limit"] = limit.rlim_cur;
  // The client holds one descriptor per connection, the publisher's, and a handful of its own.
  if (limit.rlim_cur < connections + 16) out["warning"] = "fd limit below the connections wanted";

  deployment.start(1);
  boost::asio::io_context ioc(1);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const ProcStats baseline = deployment.stats();
  auto room_name = [](std::size_t r) { return "bench:conn:" + std::to_string(r); };

  std::size_t total = 0, order_errors = 0, other_frames = 0, acked = 0, sent = 0, publish_errors = 0;
  ClientFleet fleet(ioc);
  ClientFleet::Plan plan;
  plan.count = connections;
  plan.concurrency = concurrency;
  plan.timeout = std::chrono::seconds(300);
  plan.endpoint_of = [&](std::size_t) { return deployment.endpoint(0); };
  plan.room_of = [&](std::size_t i) { return room_name(i % rooms); };
  plan.on_frame = [&](BenchClient& c, std::string_view frame) {
    auto d = parse_delivery(frame);
    if (!d) return void(++other_frames);
    ++total;
    ++c.received;
    if (d->seq != c.last_seq + 1) ++order_errors;
    c.last_seq = d->seq;
  };
  fleet.open(plan);
  const ProcStats opened = deployment.stats();
  ClientFleet::run_until(
      ioc, [] { return false; }, std::chrono::seconds(2));
  const ProcStats settled = deployment.stats();

  ClientFleet publishers(ioc);
  ClientFleet::Plan pub;
  pub.count = 1;
  pub.endpoint_of = [&](std::size_t) { return deployment.endpoint(0); };
  // Message k of every room goes out before message k+1 of any: room-major would do as well.
  const std::size_t messages = rooms * per_room;
  BenchClient* publisher = nullptr;
  auto pump = [&] {
    while (sent < messages && sent - acked < window) {
      std::size_t r = sent % rooms, seq = sent / rooms + 1;
      publisher->send(publish_frame(room_name(r), static_cast<std::int64_t>(seq), now_ns(), payload));
      ++sent;
    }
  };
  pub.on_frame = [&](BenchClient&, std::string_view frame) {
    auto r = parse_reply(frame);
    if (!r) return void(++other_frames);
    ++acked;
    if (!r->ok) ++publish_errors;
    pump();
  };
  publishers.open(pub);

  std::size_t subscribed = 0;
  for (auto& c : fleet.clients()) subscribed += c->subscribed && c->state() == BenchClient::State::open;
  const std::size_t expected = subscribed * per_room;
  if (publishers.ready() == 1) {
    publisher = publishers.clients().front().get();
    pump();
    ClientFleet::run_until(
        ioc, [&] { return total >= expected && acked == messages; }, std::chrono::seconds(60));
    ClientFleet::run_until(
        ioc, [] { return false; }, std::chrono::milliseconds(300));
  }
  std::size_t complete = 0;
  for (auto& c : fleet.clients())
    complete += c->state() == BenchClient::State::open && c->received == static_cast<std::int64_t>(per_room);

  out["connections_ready"] = fleet.ready();
  out["failed"] = fleet.failed();
  out["open_s"] = std::round(fleet.last_open_seconds() * 1000) / 1000;
  out["handshakes_per_s"] = std::round(static_cast<double>(fleet.ready()) / fleet.last_open_seconds());
  out["published"] = sent;
  out["publish_errors"] = publish_errors;
  out["deliveries"] = total;
  out["expected"] = expected;
  out["lost"] = static_cast<std::int64_t>(expected) - static_cast<std::int64_t>(total);
  out["connections_received_all"] = complete;
  out["order_errors"] = order_errors;
  out["other_frames"] = other_frames;
  out["node_rss_kib_baseline"] = baseline.rss_kib;
  out["node_rss_kib_opened"] = opened.rss_kib;
  out["node_rss_kib_settled"] = settled.rss_kib;
  out["kib_per_connection"] = std::round(static_cast<double>(settled.rss_kib - baseline.rss_kib) /
                                         static_cast<double>(connections) * 100) /
                              100;
  out["node_cpu_us_per_connection_open"] = std::round(static_cast<double>(opened.cpu_us - baseline.cpu_us) /
                                                      static_cast<double>(connections) * 10) /
                                           10;
  out["unexpected_closes"] = fleet.unexpected_closes() + publishers.unexpected_closes();
  auto errors = fleet.errors();
  publishers.add_errors_to(errors);
  out["client_errors"] = errors;
  out["node_metrics"] = deployment.metrics_report();
  out["node_connections_gauge"] = deployment.metric("switchboard_connections");
  fleet.close_all(std::chrono::seconds(30));
  publishers.close_all();
  out["deployment"] = deployment.describe();
  out["node_exit"] = deployment.stop();
  return out;
}

}  // namespace switchboard::bench
