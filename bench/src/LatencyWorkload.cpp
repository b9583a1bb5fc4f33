#include "LatencyWorkload.h"

#include <algorithm>
#include <cmath>

namespace switchboard::bench {

namespace {

std::chrono::steady_clock::duration to_duration(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
}

}  // namespace

LatencyWorkload::Params::Params(Options& options)
    : subscribers(options.size("subscribers", 200)),
      rooms(options.size("rooms", 10)),
      publishers(options.size("publishers", 10)),
      rate(options.number("rate", 1000)),
      seconds(options.number("seconds", 10)),
      warmup_seconds(options.number("warmup", 1)),
      payload_bytes(options.size("payload", 64)) {}

LatencyWorkload::LatencyWorkload(Deployment& deployment, const Params& params)
    : deployment_(deployment),
      p_(params),
      traffic_(ioc_, deployment),
      subscribers_in_(params.rooms, 0),
      sent_to_(params.rooms, 0),
      pubs_(params.publishers) {
  latencies_.reserve(static_cast<std::size_t>(params.rate * params.seconds *
                                              (double(params.subscribers) / double(params.rooms) + 1)));
  for (std::size_t i = 0; i < params.subscribers; ++i) ++subscribers_in_[i % params.rooms];
}

nlohmann::ordered_json LatencyWorkload::measure() {
  open_clients();
  nlohmann::ordered_json out;
  if (!traffic_.ready(out)) return out;
  start_publishers();
  CpuMeter cpu(deployment_);
  const double elapsed = run_publishers();
  cpu.stop();
  ClientFleet::run_for(ioc_, std::chrono::milliseconds(200));
  report(out, cpu, elapsed);
  for (auto& pb : pubs_) pb.timer->cancel();
  traffic_.close_all();
  return out;
}

void LatencyWorkload::open_clients() {
  Traffic::Subscribers subscribers;
  subscribers.count = p_.subscribers;
  subscribers.room_of = [&](std::size_t i) { return room_name(i % p_.rooms); };
  // One room per subscriber, one publisher per room: sequence numbers are consecutive.
  subscribers.on_delivery = [&](BenchClient&, const Delivery& d) {
    if (d.sent_ns >= record_from_ns_) latencies_.add(now_ns() - d.sent_ns);
  };
  traffic_.open_subscribers(subscribers);
  traffic_.open_publishers(p_.publishers, nullptr);
}

void LatencyWorkload::start_publishers() {
  period_ = to_duration(static_cast<double>(p_.publishers) / p_.rate);
  start_ = Clock::now() + std::chrono::milliseconds(50);
  const auto record_from = start_ + to_duration(p_.warmup_seconds);
  stop_at_ = record_from + to_duration(p_.seconds);
  record_from_ns_ =
      std::chrono::duration_cast<std::chrono::nanoseconds>(record_from.time_since_epoch()).count();
  for (std::size_t k = 0; k < p_.publishers; ++k) {
    pubs_[k].timer = std::make_unique<boost::asio::steady_timer>(ioc_);
    pubs_[k].next = start_ + period_ * k / static_cast<long>(p_.publishers);
    arm(k);
  }
}

void LatencyWorkload::arm(std::size_t k) {
  auto& me = pubs_[k];
  me.timer->expires_at(me.next);
  me.timer->async_wait([this, k](const boost::system::error_code& ec) {
    if (ec) return;
    auto now = Clock::now();
    if (now >= stop_at_) return void(++publishers_done_);
    publish(k, now);
    pubs_[k].next += period_;
    arm(k);
  });
}

void LatencyWorkload::publish(std::size_t k, Clock::time_point now) {
  auto& me = pubs_[k];
  max_lag_ns_ = std::max<std::int64_t>(
      max_lag_ns_, std::chrono::duration_cast<std::chrono::nanoseconds>(now - me.next).count());
  // Rooms this publisher owns: k, k+P, …
  const std::size_t owned = (p_.rooms + p_.publishers - 1 - k) / p_.publishers;
  if (owned == 0) return;
  const std::size_t r = k + (me.turn++ % owned) * p_.publishers;
  traffic_.publishers().clients()[k]->send(traffic_.publish_frame(
      room_name(r), static_cast<std::int64_t>(++sent_to_[r]), now_ns(), p_.payload_bytes));
  ++published_;
}

double LatencyWorkload::run_publishers() {
  const auto measured_from = Clock::now();
  ClientFleet::run_until(
      ioc_, [&] { return publishers_done_ == p_.publishers || !deployment_.alive(); },
      std::chrono::duration_cast<std::chrono::milliseconds>(stop_at_ - Clock::now()) +
          std::chrono::seconds(5));
  expected_ = expected();
  ClientFleet::run_until(
      ioc_, [&] { return traffic_.deliveries >= expected_ && traffic_.acked >= published_; },
      std::chrono::seconds(5));
  return std::chrono::duration<double>(Clock::now() - measured_from).count();
}

std::size_t LatencyWorkload::expected() const {
  std::size_t n = 0;
  for (std::size_t r = 0; r < p_.rooms; ++r) n += sent_to_[r] * subscribers_in_[r];
  return n;
}

void LatencyWorkload::report(nlohmann::ordered_json& out, const CpuMeter& cpu, double elapsed) {
  out["published"] = published_;
  out["achieved_rate"] = std::round(static_cast<double>(published_) / (p_.warmup_seconds + p_.seconds));
  traffic_.report_deliveries(out, expected_, false);
  out["latency"] = latencies_.summary();
  out["send_lag_max_us"] = max_lag_ns_ / 1000;
  cpu.report(out, elapsed, traffic_.deliveries, 1000);
  out["node_rss_kib"] = cpu.node_after().rss_kib;
  traffic_.report_clients(out);
}

}  // namespace switchboard::bench
