#include "SoakWorkload.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "ClientFleet.h"
#include "Figures.h"

namespace switchboard::bench {

SoakWorkload::Params::Params(Options& options)
    : churn{options.size("connections", 10000),   options.size("warmup-connections", 1000),
            options.number("rate", 200),          options.size("max-in-flight", 100),
            options.number("drop-fraction", 0.2), options.milliseconds("hold-ms", 1000)},
      witnesses(options.size("witnesses", 20)),
      rooms(options.size("rooms", 4)),
      publish{options.number("publish-rate", 200), options.size("payload", 64)},
      settle(options.milliseconds("settle-ms", 10000)),
      quiet(options.milliseconds("quiet-ms", 1000)) {
  if (rooms == 0 || witnesses < rooms) throw std::invalid_argument("soak wants --witnesses >= --rooms >= 1");
}

SoakWorkload::SoakWorkload(Deployment& deployment, const Params& params)
    : deployment_(deployment),
      p_(params),
      node_pid_(deployment.node(0).pid()),
      witnesses_(ioc_, deployment, params.witnesses, params.rooms, log_),
      publisher_(ioc_, deployment, params.witnesses, params.rooms, params.publish.payload, log_),
      churn_(ioc_, deployment, params.rooms, params.churn.drop_fraction, params.churn.hold, log_) {}

nlohmann::ordered_json SoakWorkload::measure() {
  ClientFleet::run_for(ioc_, std::chrono::milliseconds(300));
  fresh_ = snapshot();
  open_clients();
  publish_start_ = last_sample_ = Clock::now();
  arm();
  warm_up();
  soak();
  settle();
  close_everything();
  nlohmann::ordered_json out;
  report(out);
  return out;
}

SoakWorkload::Snapshot SoakWorkload::snapshot() {
  return {ProcStats::open_fds(node_pid_), deployment_.stats(), churn_.counts(), publisher_.sent()};
}

void SoakWorkload::open_clients() {
  witnesses_.open();
  publisher_.open();
  const bool clients_ready = ClientFleet::run_until(
      ioc_, [&] { return witnesses_.subscribed() == p_.witnesses && publisher_.is_open(); },
      std::chrono::seconds(30));
  if (!clients_ready) throw std::runtime_error("soak: witnesses or publisher could not connect");
}

void SoakWorkload::arm() {
  tick_.expires_after(std::chrono::milliseconds(1));
  tick_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !ticking_) return;
    on_tick(Clock::now());
    arm();
  });
}

void SoakWorkload::on_tick(Clock::time_point now) {
  auto seconds_since = [&](Clock::time_point t) { return std::chrono::duration<double>(now - t).count(); };
  if (publishing_)
    publisher_.publish_up_to(static_cast<std::int64_t>(seconds_since(publish_start_) * p_.publish.rate));
  const auto due = std::min<std::size_t>(
      phase_target_, static_cast<std::size_t>(seconds_since(phase_start_) * p_.churn.rate));
  while (churn_.counts().launched - phase_first_ < due && churn_.in_flight() < p_.churn.max_in_flight)
    churn_.launch();
  if (sampling_ && now - last_sample_ >= std::chrono::milliseconds(50)) {
    last_sample_ = now;
    rss_peak_ = std::max(rss_peak_, deployment_.stats().rss_kib);
    fds_peak_ = std::max(fds_peak_, ProcStats::open_fds(node_pid_));
  }
}

double SoakWorkload::run_phase(std::size_t count) {
  phase_target_ = count;
  phase_first_ = churn_.counts().launched;
  phase_start_ = Clock::now();
  const auto limit = std::chrono::milliseconds(
                         static_cast<std::int64_t>(static_cast<double>(count) / p_.churn.rate * 3000)) +
                     std::chrono::seconds(60);
  const bool done = ClientFleet::run_until(
      ioc_,
      [&] {
        return (churn_.counts().launched - phase_first_ == count && churn_.in_flight() == 0) ||
               !deployment_.alive();
      },
      limit);
  return std::chrono::duration<double>(Clock::now() - phase_start_).count() * (done ? 1 : -1);
}

bool SoakWorkload::wait_for_connections(double n, std::chrono::milliseconds timeout) {
  return ClientFleet::run_until(
      ioc_, [&] { return !deployment_.alive() || deployment_.metric("switchboard_connections") == n; },
      timeout);
}

void SoakWorkload::warm_up() {
  warmup_seconds_ = run_phase(p_.churn.warmup_connections);
  wait_for_connections(static_cast<double>(p_.witnesses + 1), std::chrono::seconds(20));
  ClientFleet::run_for(ioc_, p_.quiet);
  baseline_ = snapshot();
  warmup_opened_ = churn_.counts().opened;
  rss_peak_ = baseline_.stats.rss_kib;
  fds_peak_ = baseline_.fds;
}

void SoakWorkload::soak() {
  sampling_ = true;
  end_.churn_seconds = run_phase(p_.churn.connections);
  end_.churned = deployment_.stats();
  rss_peak_ = std::max(rss_peak_, end_.churned.rss_kib);
  sampling_ = false;
  publishing_ = false;
  end_.sent_during = publisher_.sent() - baseline_.sent;
  // Every publish answered, then every acked message at every witness.
  end_.all_answered = ClientFleet::run_until(
      ioc_, [&] { return publisher_.all_answered() || !deployment_.alive(); }, std::chrono::seconds(10));
  end_.all_delivered = ClientFleet::run_until(
      ioc_, [&] { return witnesses_.missing(publisher_) == 0 || !deployment_.alive(); },
      std::chrono::seconds(10));
  ticking_ = false;
  tick_.cancel();
  end_.connections_settled =
      wait_for_connections(static_cast<double>(p_.witnesses + 1), std::chrono::seconds(20));
  end_.node_connections = deployment_.metric("switchboard_connections");
}

std::int64_t SoakWorkload::rss_tolerance() const {
  return std::max<std::int64_t>(2048, (rss_peak_ - baseline_.stats.rss_kib) / 10);
}

void SoakWorkload::settle() {
  const auto settle_start = Clock::now();
  for (;;) {
    ++end_.attempts;
    end_.after = snapshot();
    rss_peak_ = std::max(rss_peak_, end_.after.stats.rss_kib);
    const bool back = end_.after.fds == baseline_.fds &&
                      end_.after.stats.rss_kib - baseline_.stats.rss_kib <= rss_tolerance();
    if (back || Clock::now() - settle_start >= p_.settle || !deployment_.alive()) break;
    ClientFleet::run_for(ioc_, std::chrono::milliseconds(500));
  }
  end_.settle_seconds = std::chrono::duration<double>(Clock::now() - settle_start).count();
  // Late duplicates would have come by now.
  end_.lost = witnesses_.missing(publisher_);
  end_.duplicates = witnesses_.duplicates();
  end_.out_of_order = witnesses_.out_of_order();
  end_.witness_messages = witnesses_.received();
  end_.acked = publisher_.acked_total();
  end_.ack_offset_holes = publisher_.offset_holes();
  end_.node_metrics = deployment_.metrics_report();
}

void SoakWorkload::close_everything() {
  witnesses_.close();
  publisher_.close();
  end_.emptied = wait_for_connections(0, std::chrono::seconds(10));
  end_.fds_empty = ProcStats::open_fds(node_pid_);
  for (int i = 0; i < 20 && end_.fds_empty != fresh_.fds; ++i) {
    ClientFleet::run_for(ioc_, std::chrono::milliseconds(250));
    end_.fds_empty = ProcStats::open_fds(node_pid_);
  }
  end_.node_alive = deployment_.alive();
}

// A run that did not get through (the node closed a witness or the publisher, publishes left
// unanswered, connections left over) proves nothing: it fails too, and says why.
nlohmann::ordered_json SoakWorkload::problems() const {
  nlohmann::ordered_json problems = nlohmann::ordered_json::array();
  auto note = [&](bool failed, const std::string& what) {
    if (failed) problems.push_back(what);
  };
  const auto fds_after = end_.after.fds, fds_baseline = baseline_.fds;
  note(!end_.node_alive, "the node died");
  note(end_.lost, std::to_string(end_.lost) + " acked messages missing at a witness");
  note(end_.duplicates, std::to_string(end_.duplicates) + " duplicate deliveries to witnesses");
  note(end_.out_of_order, std::to_string(end_.out_of_order) + " out-of-order deliveries to witnesses");
  note(publisher_.offset_duplicates() || end_.ack_offset_holes,
       "publish acks: offsets duplicated or skipped");
  note(fds_after != fds_baseline, "node descriptors: " + std::to_string(fds_after) + " after, " +
                                      std::to_string(fds_baseline) + " at the baseline");
  note(end_.fds_empty != fresh_.fds,
       "node descriptors with no connection: " + std::to_string(end_.fds_empty) + ", fresh " +
           std::to_string(fresh_.fds));
  note(end_.churn_seconds <= 0, "churn did not finish: " + std::to_string(churn_.in_flight()) + " in flight");
  note(!end_.all_answered, "publishes left unanswered");
  note(publisher_.closed_by_node() || witnesses_.unexpected_closes(),
       "the node closed the publisher or a witness");
  note(!end_.connections_settled, "switchboard_connections did not return to witnesses + 1");
  note(churn_.order_errors(), "out-of-order deliveries to churning connections");
  return problems;
}

void SoakWorkload::report(nlohmann::ordered_json& out) {
  const auto problems = this->problems();
  const auto& counts = churn_.counts();
  const std::int64_t rss_left = end_.after.stats.rss_kib - baseline_.stats.rss_kib;
  out["passed"] = problems.empty();
  out["problems"] = problems;
  out["lost"] = end_.lost;
  out["duplicates"] = end_.duplicates;
  out["fds_returned"] = end_.after.fds == baseline_.fds;
  out["rss_returned"] = rss_left <= rss_tolerance();
  out["connections_opened"] = counts.opened - baseline_.churn.opened;
  out["connections_closed"] = counts.closed - baseline_.churn.closed;
  std::size_t drops = 0;
  churn_.drops_since(baseline_.churn, drops);
  out["drops"] = drops;
  out["acked_messages"] = end_.acked;
  out["node_fds"] = {{"fresh", fresh_.fds},
                     {"baseline", baseline_.fds},
                     {"peak", fds_peak_},
                     {"after", end_.after.fds},
                     {"after_closing_all", end_.fds_empty}};
  out["node_rss_kib"] = {{"fresh", fresh_.stats.rss_kib},
                         {"baseline", baseline_.stats.rss_kib},
                         {"peak", rss_peak_},
                         {"after", end_.after.stats.rss_kib},
                         {"left", rss_left},
                         {"tolerance", rss_tolerance()},
                         {"after_closing_all", deployment_.stats().rss_kib}};
  out["settle"] = {{"attempts", end_.attempts},
                   {"seconds", Figures::rounded(end_.settle_seconds, 10)},
                   {"node_connections", end_.node_connections},
                   {"connections_settled", end_.connections_settled},
                   {"all_publishes_answered", end_.all_answered},
                   {"all_delivered", end_.all_delivered},
                   {"emptied_after_closing_all", end_.emptied}};
  out["warmup"] = {{"connections_opened", warmup_opened_},
                   {"seconds", Figures::rounded(std::abs(warmup_seconds_), 10)}};
  out["churn"] = churn_report();
  out["publish"] = {{"rate", p_.publish.rate},
                    {"sent", publisher_.sent()},
                    {"sent_during_soak", end_.sent_during},
                    {"acked", end_.acked},
                    {"errors", publisher_.errors()},
                    {"ack_offset_duplicates", publisher_.offset_duplicates()},
                    {"ack_offset_holes", end_.ack_offset_holes}};
  out["witnesses"] = witnesses_report();
  out["client_errors"] = Figures::counts(log_.errors);
  out["other_frames"] = log_.other_frames;
  out["node_metrics"] = end_.node_metrics;
}

nlohmann::ordered_json SoakWorkload::churn_report() const {
  const auto& now = churn_.counts();
  const auto& then = baseline_.churn;
  const double seconds = std::abs(end_.churn_seconds);
  const std::size_t opened = now.opened - then.opened;
  std::size_t drops = 0;
  auto drop_report = churn_.drops_since(then, drops);
  return {{"connections_launched", now.launched - p_.churn.warmup_connections},
          {"connections_opened", opened},
          {"failed_opens", now.failed_opens - then.failed_opens},
          {"connections_closed", now.closed - then.closed},
          {"clean_closes", now.clean_closes - then.clean_closes},
          {"drops", drop_report},
          {"closed_by_node", churn_.closed_by_node()},
          {"closed_without_message", now.closed_without_message - then.closed_without_message},
          {"still_open", churn_.in_flight()},
          {"seconds", Figures::rounded(seconds, 10)},
          {"finished", end_.churn_seconds > 0},
          {"connections_per_s", std::round(static_cast<double>(opened) / seconds)},
          // The node's CPU over the soak (publishing and deliveries included), in cores.
          {"node_cpu_util",
           Figures::rounded(
               static_cast<double>(end_.churned.cpu_us - baseline_.stats.cpu_us) / (seconds * 1e6), 100)},
          {"messages_received", churn_.messages()},
          {"order_errors", churn_.order_errors()}};
}

nlohmann::ordered_json SoakWorkload::witnesses_report() const {
  return {{"count", p_.witnesses},
          {"rooms", p_.rooms},
          {"messages_received", end_.witness_messages},
          {"expected", witnesses_.expected(publisher_)},
          {"lost", end_.lost},
          {"duplicates", end_.duplicates},
          {"out_of_order", end_.out_of_order},
          {"unexpected_closes", witnesses_.unexpected_closes()}};
}

}  // namespace switchboard::bench
