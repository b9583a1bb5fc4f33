#include "FanoutWorkload.h"

#include <cmath>

#include "Figures.h"

namespace switchboard::bench {

FanoutWorkload::Params::Params(Options& options)
    : subscribers(options.size("subscribers", 1000)),
      messages(options.size("messages", 5000)),
      payload_bytes(options.size("payload", 64)),
      window(options.size("window", 100)),
      timeout(options.integer("timeout", 120)) {}

FanoutWorkload::FanoutWorkload(Deployment& deployment, const Params& params)
    : deployment_(deployment), p_(params), traffic_(ioc_, deployment), delivered_(params.messages + 1, 0) {}

nlohmann::ordered_json FanoutWorkload::measure() {
  Traffic::Subscribers subscribers;
  subscribers.count = p_.subscribers;
  subscribers.room_of = [&](std::size_t) { return room_; };
  subscribers.on_delivery = [&](BenchClient&, const Delivery& d) { on_delivery(d); };
  traffic_.open_subscribers(subscribers);
  traffic_.open_publishers(1, [&](const Reply&) {
    last_progress_ = Clock::now();
    pump();
  });

  nlohmann::ordered_json out;
  out["subscribers_ready"] = traffic_.subscribers().ready();
  if (!traffic_.ready(out)) return out;
  publisher_ = traffic_.publishers().clients().front().get();

  CpuMeter cpu(deployment_);
  const bool finished = publish_all();
  cpu.stop();
  const double elapsed = std::chrono::duration<double>(last_delivery_ - started_).count();
  // Whatever still arrives (duplicates, stragglers) within a moment counts too.
  ClientFleet::run_for(ioc_, std::chrono::milliseconds(300));
  report(out, finished, cpu, elapsed);
  traffic_.close_all();
  return out;
}

void FanoutWorkload::on_delivery(const Delivery& d) {
  if (d.seq < 1 || static_cast<std::size_t>(d.seq) > p_.messages) return;
  last_delivery_ = last_progress_ = Clock::now();
  if (++delivered_[d.seq] != p_.subscribers) return;
  bool advanced = false;
  while (completed_ < p_.messages && delivered_[completed_ + 1] == p_.subscribers) {
    ++completed_;
    advanced = true;
  }
  if (advanced) pump();
}

void FanoutWorkload::pump() {
  const std::size_t acked = traffic_.acked;
  while (sent_ < p_.messages && sent_ - acked < p_.window && sent_ - completed_ < p_.window) {
    ++sent_;
    publisher_->send(
        traffic_.publish_frame(room_, static_cast<std::int64_t>(sent_), now_ns(), p_.payload_bytes));
  }
}

bool FanoutWorkload::publish_all() {
  started_ = last_progress_ = last_delivery_ = Clock::now();
  pump();
  return ClientFleet::run_until(
      ioc_,
      [&] {
        return (completed_ == p_.messages && traffic_.acked == p_.messages) ||
               Clock::now() - last_progress_ > std::chrono::seconds(10) || !deployment_.alive();
      },
      std::chrono::duration_cast<std::chrono::milliseconds>(p_.timeout));
}

void FanoutWorkload::report(nlohmann::ordered_json& out, bool finished, const CpuMeter& cpu,
                            double elapsed) const {
  const std::size_t expected = p_.messages * p_.subscribers;
  out["completed"] = finished && completed_ == p_.messages;
  traffic_.report_deliveries(out, expected, true);
  out["elapsed_s"] = Figures::rounded(elapsed, 1000);
  out["deliveries_per_s"] = std::round(static_cast<double>(traffic_.deliveries) / elapsed);
  out["messages_per_s"] = std::round(static_cast<double>(completed_) / elapsed);
  cpu.report(out, elapsed, expected, 100);
  out["node_rss_kib_before"] = cpu.node_before().rss_kib;
  out["node_rss_kib_after"] = cpu.node_after().rss_kib;
  traffic_.report_clients(out);
}

}  // namespace switchboard::bench
