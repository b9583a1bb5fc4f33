#include "LatencyWorkload.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cmath>
#include <memory>
#include <vector>

#include "ClientFleet.h"
#include "LatencyRecorder.h"
#include "Payload.h"
#include "ProcStats.h"

namespace switchboard::bench {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

LatencyWorkload::Params LatencyWorkload::read(Options& options) {
  Params p;
  p.subscribers = static_cast<std::size_t>(options.integer("subscribers", 200));
  p.rooms = static_cast<std::size_t>(options.integer("rooms", 10));
  p.publishers = static_cast<std::size_t>(options.integer("publishers", 10));
  p.rate = options.number("rate", 1000);
  p.seconds = options.number("seconds", 10);
  p.warmup_seconds = options.number("warmup", 1);
  p.payload_bytes = static_cast<std::size_t>(options.integer("payload", 64));
  return p;
}

nlohmann::ordered_json LatencyWorkload::measure(Deployment& deployment, const Params& p) {
  net::io_context ioc(1);
  const std::size_t nodes = deployment.size();
  auto room_name = [](std::size_t r) { return "bench:latency:" + std::to_string(r); };

  LatencyRecorder latencies;
  latencies.reserve(
      static_cast<std::size_t>(p.rate * p.seconds * (double(p.subscribers) / double(p.rooms) + 1)));
  std::int64_t record_from_ns = INT64_MAX;
  std::size_t total = 0, order_errors = 0, other_frames = 0, acked = 0, publish_errors = 0;
  std::vector<std::size_t> subscribers_in(p.rooms, 0), sent_to(p.rooms, 0);
  for (std::size_t i = 0; i < p.subscribers; ++i) ++subscribers_in[i % p.rooms];

  ClientFleet subscribers(ioc);
  ClientFleet::Plan plan;
  plan.count = p.subscribers;
  plan.endpoint_of = [&](std::size_t i) { return deployment.endpoint(i % nodes); };
  plan.room_of = [&](std::size_t i) { return room_name(i % p.rooms); };
  plan.on_frame = [&](BenchClient& c, std::string_view frame) {
    auto d = parse_delivery(frame);
    if (!d) return void(++other_frames);
    const std::int64_t now = now_ns();
    if (d->sent_ns >= record_from_ns) latencies.add(now - d->sent_ns);
    ++total;
    // One room per subscriber, one publisher per room: sequence numbers are consecutive.
    if (d->seq != c.last_seq + 1) ++order_errors;
    c.last_seq = d->seq;
  };
  subscribers.open(plan);

  ClientFleet publishers(ioc);
  ClientFleet::Plan pub;
  pub.count = p.publishers;
  pub.endpoint_of = [&](std::size_t) { return deployment.endpoint(0); };
  pub.on_frame = [&](BenchClient&, std::string_view frame) {
    auto r = parse_reply(frame);
    if (!r) return void(++other_frames);
    ++acked;
    if (!r->ok) ++publish_errors;
  };
  publishers.open(pub);

  nlohmann::ordered_json out;
  if (subscribers.ready() != p.subscribers || publishers.ready() != p.publishers) {
    out["error"] = "could not open every connection";
    out["client_errors"] = subscribers.errors();
    return out;
  }

  // Publisher k sends to rooms k, k+P, k+2P, … in turn, every P/rate seconds, the publishers
  // staggered evenly over that period: messages leave at a steady total rate.
  const auto period = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(static_cast<double>(p.publishers) / p.rate));
  const auto start = Clock::now() + std::chrono::milliseconds(50);
  const auto record_from =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(p.warmup_seconds));
  const auto stop_at =
      record_from + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(p.seconds));
  record_from_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(record_from.time_since_epoch()).count();
  std::int64_t max_lag_ns = 0;
  std::size_t published = 0, publishers_done = 0;

  struct Publisher {
    std::unique_ptr<net::steady_timer> timer;
    Clock::time_point next;
    std::size_t turn = 0;
  };
  std::vector<Publisher> pubs(p.publishers);
  std::function<void(std::size_t)> arm = [&](std::size_t k) {
    auto& me = pubs[k];
    me.timer->expires_at(me.next);
    me.timer->async_wait([&, k](const boost::system::error_code& ec) {
      if (ec) return;
      auto& me = pubs[k];
      auto now = Clock::now();
      if (now >= stop_at) return void(++publishers_done);
      max_lag_ns = std::max<std::int64_t>(
          max_lag_ns, std::chrono::duration_cast<std::chrono::nanoseconds>(now - me.next).count());
      // Rooms this publisher owns: k, k+P, …
      std::size_t owned = (p.rooms + p.publishers - 1 - k) / p.publishers;
      if (owned > 0) {
        std::size_t r = k + (me.turn++ % owned) * p.publishers;
        publishers.clients()[k]->send(
            publish_frame(room_name(r), static_cast<std::int64_t>(++sent_to[r]), now_ns(), p.payload_bytes));
        ++published;
      }
      me.next += period;
      arm(k);
    });
  };
  for (std::size_t k = 0; k < p.publishers; ++k) {
    pubs[k].timer = std::make_unique<net::steady_timer>(ioc);
    pubs[k].next = start + period * k / static_cast<long>(p.publishers);
    arm(k);
  }

  const ProcStats node_before = deployment.stats();
  const ProcStats redis_before = deployment.redis_stats();
  const std::int64_t client_before = ProcStats::self_cpu_us();
  const auto measured_from = Clock::now();
  ClientFleet::run_until(
      ioc, [&] { return publishers_done == p.publishers || !deployment.alive(); },
      std::chrono::duration_cast<std::chrono::milliseconds>(stop_at - Clock::now()) +
          std::chrono::seconds(5));
  std::size_t expected = 0;
  for (std::size_t r = 0; r < p.rooms; ++r) expected += sent_to[r] * subscribers_in[r];
  ClientFleet::run_until(
      ioc, [&] { return total >= expected && acked >= published; }, std::chrono::seconds(5));
  const double elapsed = std::chrono::duration<double>(Clock::now() - measured_from).count();
  const ProcStats node_after = deployment.stats();
  const ProcStats redis_after = deployment.redis_stats();
  const std::int64_t client_cpu = ProcStats::self_cpu_us() - client_before;
  ClientFleet::run_until(
      ioc, [] { return false; }, std::chrono::milliseconds(200));

  const double node_cpu = static_cast<double>(node_after.cpu_us - node_before.cpu_us);
  out["published"] = published;
  out["achieved_rate"] = std::round(static_cast<double>(published) / (p.warmup_seconds + p.seconds));
  out["deliveries"] = total;
  out["expected"] = expected;
  out["lost"] = static_cast<std::int64_t>(expected) - static_cast<std::int64_t>(total);
  out["order_errors"] = order_errors;
  out["publish_errors"] = publish_errors;
  out["other_frames"] = other_frames;
  out["latency"] = latencies.summary();
  out["send_lag_max_us"] = max_lag_ns / 1000;
  out["node_cpu_us"] = node_cpu;
  out["node_cpu_us_per_delivery"] =
      total ? std::round(node_cpu / static_cast<double>(total) * 1000) / 1000 : 0.0;
  out["node_cpu_util"] = std::round(node_cpu / (elapsed * 1e6) * 1000) / 1000;
  if (deployment.has_redis()) out["redis_cpu_us"] = redis_after.cpu_us - redis_before.cpu_us;
  out["client_cpu_util"] = std::round(static_cast<double>(client_cpu) / (elapsed * 1e6) * 1000) / 1000;
  out["node_rss_kib"] = node_after.rss_kib;
  out["unexpected_closes"] = subscribers.unexpected_closes() + publishers.unexpected_closes();
  auto errors = subscribers.errors();
  publishers.add_errors_to(errors);
  out["client_errors"] = errors;
  out["node_metrics"] = deployment.metrics_report();
  for (auto& pb : pubs) pb.timer->cancel();
  subscribers.close_all();
  publishers.close_all();
  return out;
}

nlohmann::ordered_json LatencyWorkload::run(Options& options) {
  Params p = read(options);
  Deployment deployment(options);
  options.reject_unknown();
  deployment.start(1);
  auto out = measure(deployment, p);
  out["deployment"] = deployment.describe();
  out["node_exit"] = deployment.stop();
  return out;
}

}  // namespace switchboard::bench
