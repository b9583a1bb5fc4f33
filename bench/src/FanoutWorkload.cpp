#include "FanoutWorkload.h"

#include <boost/asio/io_context.hpp>
#include <cmath>
#include <vector>

#include "ClientFleet.h"
#include "Payload.h"
#include "ProcStats.h"

namespace switchboard::bench {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

FanoutWorkload::Params FanoutWorkload::read(Options& options) {
  Params p;
  p.subscribers = static_cast<std::size_t>(options.integer("subscribers", 1000));
  p.messages = static_cast<std::size_t>(options.integer("messages", 5000));
  p.payload_bytes = static_cast<std::size_t>(options.integer("payload", 64));
  p.window = static_cast<std::size_t>(options.integer("window", 100));
  p.timeout = std::chrono::seconds(options.integer("timeout", 120));
  return p;
}

nlohmann::ordered_json FanoutWorkload::measure(Deployment& deployment, const Params& p) {
  net::io_context ioc(1);
  const std::string room = "bench:fanout";
  const std::size_t nodes = deployment.size();

  // Per message, how many subscribers have it; `completed` counts the messages every subscriber has.
  std::vector<std::uint32_t> delivered(p.messages + 1, 0);
  std::size_t completed = 0, total = 0, order_errors = 0, other_frames = 0, sent = 0, acked = 0,
              publish_errors = 0;
  std::string first_publish_error;
  Clock::time_point started, last_delivery, last_progress;
  BenchClient* publisher = nullptr;

  auto pump = [&] {
    while (sent < p.messages && sent - acked < p.window && sent - completed < p.window) {
      ++sent;
      publisher->send(publish_frame(room, static_cast<std::int64_t>(sent), now_ns(), p.payload_bytes));
    }
  };

  ClientFleet subscribers(ioc);
  ClientFleet::Plan plan;
  plan.count = p.subscribers;
  plan.endpoint_of = [&](std::size_t i) { return deployment.endpoint(i % nodes); };
  plan.room_of = [&](std::size_t) { return room; };
  plan.on_frame = [&](BenchClient& c, std::string_view frame) {
    auto d = parse_delivery(frame);
    if (!d) return void(++other_frames);
    ++total;
    ++c.received;
    if (d->seq != c.last_seq + 1) ++order_errors;
    c.last_seq = d->seq;
    if (d->seq < 1 || static_cast<std::size_t>(d->seq) > p.messages) return;
    last_delivery = last_progress = Clock::now();
    if (++delivered[d->seq] == p.subscribers) {
      bool advanced = false;
      while (completed < p.messages && delivered[completed + 1] == p.subscribers) {
        ++completed;
        advanced = true;
      }
      if (advanced) pump();
    }
  };
  subscribers.open(plan);

  ClientFleet publishers(ioc);
  ClientFleet::Plan pub;
  pub.count = 1;
  pub.endpoint_of = [&](std::size_t) { return deployment.endpoint(0); };
  pub.on_frame = [&](BenchClient&, std::string_view frame) {
    auto r = parse_reply(frame);
    if (!r) return void(++other_frames);
    if (r->ok) {
      ++acked;
    } else {
      ++acked;  // answered: it no longer counts against the window
      if (publish_errors++ == 0) first_publish_error = std::string(frame);
    }
    last_progress = Clock::now();
    pump();
  };
  publishers.open(pub);

  nlohmann::ordered_json out;
  out["subscribers_ready"] = subscribers.ready();
  if (subscribers.ready() != p.subscribers || publishers.ready() != 1) {
    out["error"] = "could not open every connection";
    out["client_errors"] = subscribers.errors();
    return out;
  }
  publisher = publishers.clients().front().get();

  const ProcStats node_before = deployment.stats();
  const ProcStats redis_before = deployment.redis_stats();
  const std::int64_t client_before = ProcStats::self_cpu_us();
  started = last_progress = last_delivery = Clock::now();
  pump();
  const std::size_t expected = p.messages * p.subscribers;
  bool finished = ClientFleet::run_until(
      ioc,
      [&] {
        return (completed == p.messages && acked == p.messages) ||
               Clock::now() - last_progress > std::chrono::seconds(10) || !deployment.alive();
      },
      std::chrono::duration_cast<std::chrono::milliseconds>(p.timeout));
  const ProcStats node_after = deployment.stats();
  const ProcStats redis_after = deployment.redis_stats();
  const std::int64_t client_cpu = ProcStats::self_cpu_us() - client_before;
  const double elapsed = std::chrono::duration<double>(last_delivery - started).count();
  // Whatever still arrives (duplicates, stragglers) within a moment counts too.
  ClientFleet::run_until(
      ioc, [] { return false; }, std::chrono::milliseconds(300));

  const double node_cpu = static_cast<double>(node_after.cpu_us - node_before.cpu_us);
  out["completed"] = finished && completed == p.messages;
  out["deliveries"] = total;
  out["expected"] = expected;
  out["lost"] = static_cast<std::int64_t>(expected) - static_cast<std::int64_t>(total);
  out["order_errors"] = order_errors;
  out["publish_errors"] = publish_errors;
  if (publish_errors) out["first_publish_error"] = first_publish_error;
  out["other_frames"] = other_frames;
  out["elapsed_s"] = std::round(elapsed * 1000) / 1000;
  out["deliveries_per_s"] = std::round(static_cast<double>(total) / elapsed);
  out["messages_per_s"] = std::round(static_cast<double>(completed) / elapsed);
  out["node_cpu_us"] = node_cpu;
  out["node_cpu_us_per_delivery"] = std::round(node_cpu / static_cast<double>(expected) * 1000) / 1000;
  out["node_cpu_util"] = std::round(node_cpu / (elapsed * 1e6) * 100) / 100;
  if (deployment.has_redis()) out["redis_cpu_us"] = redis_after.cpu_us - redis_before.cpu_us;
  out["client_cpu_util"] = std::round(static_cast<double>(client_cpu) / (elapsed * 1e6) * 100) / 100;
  out["node_rss_kib_before"] = node_before.rss_kib;
  out["node_rss_kib_after"] = node_after.rss_kib;
  out["unexpected_closes"] = subscribers.unexpected_closes() + publishers.unexpected_closes();
  auto errors = subscribers.errors();
  publishers.add_errors_to(errors);
  out["client_errors"] = errors;
  out["node_metrics"] = deployment.metrics_report();
  subscribers.close_all();
  publishers.close_all();
  return out;
}

nlohmann::ordered_json FanoutWorkload::run(Options& options) {
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
