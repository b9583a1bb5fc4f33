#include "ChurnWorkload.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <thread>

#include "BenchClient.h"
#include "ClientFleet.h"
#include "Figures.h"
#include "Payload.h"

namespace switchboard::bench {

ChurnWorkload::Params::Params(Options& options)
    : rate(options.number("rate", 1000)),
      seconds(options.number("seconds", 10)),
      rounds(static_cast<int>(options.integer("rounds", 2))),
      max_in_flight(options.size("max-in-flight", 1000)),
      rooms(options.size("rooms", 100)),
      quiet(options.milliseconds("quiet-ms", 3000)) {}

ChurnWorkload::ChurnWorkload(Deployment& deployment, const Params& params)
    : deployment_(deployment), p_(params) {}

nlohmann::ordered_json ChurnWorkload::measure() {
  baseline_ = deployment_.settled_stats();
  peak_rss_ = baseline_.rss_kib;
  for (int round = 0; round < p_.rounds; ++round)
    if (!run_round()) break;
  nlohmann::ordered_json out;
  report(out);
  return out;
}

bool ChurnWorkload::run_round() {
  round_ = Round{};
  round_.before = deployment_.stats();
  round_.start = Clock::now();
  round_.stop_at =
      round_.start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(p_.seconds));
  last_sample_ = Clock::now();
  arm();
  ClientFleet::run_until(
      ioc_, [&] { return Clock::now() >= round_.stop_at; },
      std::chrono::duration_cast<std::chrono::milliseconds>(round_.stop_at - Clock::now()) +
          std::chrono::seconds(1));
  const double elapsed = std::chrono::duration<double>(Clock::now() - round_.start).count();
  const bool drained = ClientFleet::run_until(
      ioc_, [&] { return round_.in_flight == 0; }, std::chrono::seconds(20));
  const ProcStats churned = deployment_.stats();
  round_.peak_rss = std::max(round_.peak_rss, churned.rss_kib);
  // The node has let go of every connection, then a quiet moment.
  ClientFleet::run_until(
      ioc_, [&] { return deployment_.metric("switchboard_connections") == 0; }, std::chrono::seconds(20));
  std::this_thread::sleep_for(p_.quiet);
  const ProcStats after = deployment_.stats();
  peak_rss_ = std::max(peak_rss_, round_.peak_rss);
  total_handshakes_ += round_.handshakes;
  total_cycles_ += round_.cycles;
  total_seconds_ += elapsed;
  round_reports_.push_back(round_report(elapsed, churned, after));
  return drained;
}

void ChurnWorkload::arm() {
  tick_.expires_after(std::chrono::milliseconds(1));
  tick_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    const auto now = Clock::now();
    if (now < round_.stop_at) on_tick(now);
  });
}

void ChurnWorkload::on_tick(Clock::time_point now) {
  const auto due =
      static_cast<std::size_t>(std::chrono::duration<double>(now - round_.start).count() * p_.rate);
  while (round_.launched + round_.skipped < due) {
    if (round_.in_flight >= p_.max_in_flight)
      ++round_.skipped;
    else
      launch();
  }
  if (now - last_sample_ >= std::chrono::milliseconds(50)) {
    last_sample_ = now;
    round_.peak_rss = std::max(round_.peak_rss, deployment_.stats().rss_kib);
  }
  arm();
}

void ChurnWorkload::launch() {
  ++round_.launched;
  ++round_.in_flight;
  auto client = std::make_shared<BenchClient>(ioc_, round_.index++);
  const std::string room = "bench:churn:" + std::to_string(round_.index % p_.rooms);
  client->on_frame([this](BenchClient& c, std::string_view frame) {
    if (c.subscribed || !is_subscribe_reply(frame)) return;
    c.subscribed = true;
    if (!parse_reply(frame).value_or(Reply{}).ok) ++errors_["subscribe refused: " + std::string(frame)];
    c.close();
  });
  client->on_closed([this](BenchClient& c, const boost::system::error_code& ec) { on_closed(c, ec); });
  client->open(deployment_.endpoint(0), [this, room](BenchClient& c, const boost::system::error_code& ec) {
    if (ec) {
      --round_.in_flight;
      ++round_.failed;
      ++errors_["open: " + ec.message()];
      return;
    }
    ++round_.handshakes;
    c.send(subscribe_frame(room));
  });
}

void ChurnWorkload::on_closed(BenchClient& c, const boost::system::error_code& ec) {
  --round_.in_flight;
  if (c.subscribed && c.closed_cleanly(ec))
    ++round_.cycles;
  else
    ++errors_["closed: " + c.close_reason(ec)];
}

nlohmann::ordered_json ChurnWorkload::round_report(double elapsed, const ProcStats& churned,
                                                   const ProcStats& after) const {
  const Round& r = round_;
  const double cpu_per_cycle =
      r.cycles
          ? Figures::rounded(
                static_cast<double>(churned.cpu_us - r.before.cpu_us) / static_cast<double>(r.cycles), 10)
          : 0.0;
  return {{"launched", r.launched},
          {"handshakes", r.handshakes},
          {"cycles_completed", r.cycles},
          {"failed", r.failed},
          {"skipped_at_max_in_flight", r.skipped},
          {"handshakes_per_s", std::round(static_cast<double>(r.handshakes) / elapsed)},
          {"node_cpu_us_per_cycle", cpu_per_cycle},
          {"node_rss_kib_before", r.before.rss_kib},
          {"node_rss_kib_peak", r.peak_rss},
          {"node_rss_kib_after", after.rss_kib},
          {"stuck_connections", r.in_flight}};
}

void ChurnWorkload::report(nlohmann::ordered_json& out) const {
  const ProcStats final_stats = deployment_.stats();
  out["target_rate"] = p_.rate;
  out["handshakes_per_s"] = std::round(static_cast<double>(total_handshakes_) / total_seconds_);
  out["cycles_completed"] = total_cycles_;
  out["node_rss_kib_baseline"] = baseline_.rss_kib;
  out["node_rss_kib_peak"] = peak_rss_;
  out["node_rss_kib_after"] = final_stats.rss_kib;
  // "Back to baseline": what is left is within 10% of the peak's growth (allocator caches) or 1 MiB.
  const std::int64_t growth = peak_rss_ - baseline_.rss_kib, left = final_stats.rss_kib - baseline_.rss_kib;
  out["node_rss_kib_left"] = left;
  out["rss_returned_to_baseline"] = left <= std::max<std::int64_t>(1024, growth / 10);
  // What a leak would show: memory still growing after the first round, whose residue may be
  // the allocator's own cache.
  if (round_reports_.size() > 1)
    out["node_rss_kib_growth_after_round_1"] =
        final_stats.rss_kib - round_reports_[0]["node_rss_kib_after"].get<std::int64_t>();
  out["rounds"] = round_reports_;
  out["client_errors"] = Figures::counts(errors_);
  out["node_metrics"] = deployment_.metrics_report();
}

}  // namespace switchboard::bench
