#include "ChurnWorkload.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cmath>
#include <functional>
#include <map>
#include <thread>

#include "BenchClient.h"

#include <boost/beast/websocket/error.hpp>
#include "ClientFleet.h"
#include "Deployment.h"
#include "Payload.h"

namespace switchboard::bench {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

nlohmann::ordered_json ChurnWorkload::run(Options& options) {
  const double rate = options.number("rate", 1000);
  const double seconds = options.number("seconds", 10);
  const auto rounds = static_cast<int>(options.integer("rounds", 2));
  const auto max_in_flight = static_cast<std::size_t>(options.integer("max-in-flight", 1000));
  const auto rooms = static_cast<std::size_t>(options.integer("rooms", 100));
  const auto quiet = std::chrono::milliseconds(options.integer("quiet-ms", 3000));
  Deployment deployment(options);
  options.reject_unknown();
  deployment.start(1);

  net::io_context ioc(1);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const ProcStats baseline = deployment.stats();
  nlohmann::ordered_json out;
  nlohmann::ordered_json round_reports = nlohmann::ordered_json::array();
  std::map<std::string, std::size_t> errors;
  std::int64_t peak_rss = baseline.rss_kib;
  std::size_t total_handshakes = 0, total_cycles = 0;
  double total_seconds = 0;

  for (int round = 0; round < rounds; ++round) {
    std::size_t launched = 0, handshakes = 0, cycles = 0, failed = 0, skipped = 0, in_flight = 0, index = 0;
    std::int64_t round_peak = 0;
    const ProcStats before = deployment.stats();
    const auto start = Clock::now();
    const auto stop_at =
        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));

    // A connection's life: open, subscribe, on the reply close; done once the close completes.
    auto launch = [&] {
      ++launched;
      ++in_flight;
      auto client = std::make_shared<BenchClient>(ioc, index++);
      const std::string room = "bench:churn:" + std::to_string(index % rooms);
      client->on_frame([&](BenchClient& c, std::string_view frame) {
        if (!c.subscribed && frame.starts_with(R"({"id":"s",)")) {
          c.subscribed = true;
          if (!parse_reply(frame).value_or(Reply{}).ok) ++errors["subscribe refused: " + std::string(frame)];
          c.close();
        }
      });
      client->on_closed([&](BenchClient& c, const boost::system::error_code& ec) {
        --in_flight;
        // Our close completes the pending read with operation_aborted once the node's 1000 is in.
        const bool clean =
            ec == boost::beast::websocket::error::closed || ec == boost::asio::error::operation_aborted;
        if (c.subscribed && clean && c.close_code() == 1000)
          ++cycles;
        else
          ++errors["closed: code " + std::to_string(c.close_code()) + " (" + ec.message() + ")"];
      });
      client->open(deployment.endpoint(0), [&, room](BenchClient& c, const boost::system::error_code& ec) {
        if (ec) {
          --in_flight;
          ++failed;
          ++errors["open: " + ec.message()];
          return;
        }
        ++handshakes;
        c.send(subscribe_frame(room));
      });
    };

    // Every millisecond: launch the connections due by now at the fixed rate, and sample RSS every 50 ms.
    net::steady_timer tick(ioc);
    auto last_sample = Clock::now();
    std::function<void()> arm = [&] {
      tick.expires_after(std::chrono::milliseconds(1));
      tick.async_wait([&](const boost::system::error_code& ec) {
        if (ec) return;
        auto now = Clock::now();
        if (now >= stop_at) return;
        auto due = static_cast<std::size_t>(std::chrono::duration<double>(now - start).count() * rate);
        while (launched + skipped < due) {
          if (in_flight >= max_in_flight)
            ++skipped;
          else
            launch();
        }
        if (now - last_sample >= std::chrono::milliseconds(50)) {
          last_sample = now;
          round_peak = std::max(round_peak, deployment.stats().rss_kib);
        }
        arm();
      });
    };
    arm();
    ClientFleet::run_until(
        ioc, [&] { return Clock::now() >= stop_at; },
        std::chrono::duration_cast<std::chrono::milliseconds>(stop_at - Clock::now()) +
            std::chrono::seconds(1));
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    const bool drained = ClientFleet::run_until(
        ioc, [&] { return in_flight == 0; }, std::chrono::seconds(20));
    const ProcStats churned = deployment.stats();
    round_peak = std::max(round_peak, churned.rss_kib);
    // The node has let go of every connection, then a quiet moment.
    ClientFleet::run_until(
        ioc, [&] { return deployment.metric("switchboard_connections") == 0; }, std::chrono::seconds(20));
    std::this_thread::sleep_for(quiet);
    const ProcStats after = deployment.stats();
    peak_rss = std::max(peak_rss, round_peak);
    total_handshakes += handshakes;
    total_cycles += cycles;
    total_seconds += elapsed;
    round_reports.push_back(
        {{"launched", launched},
         {"handshakes", handshakes},
         {"cycles_completed", cycles},
         {"failed", failed},
         {"skipped_at_max_in_flight", skipped},
         {"handshakes_per_s", std::round(static_cast<double>(handshakes) / elapsed)},
         {"node_cpu_us_per_cycle", cycles ? std::round(static_cast<double>(churned.cpu_us - before.cpu_us) /
                                                       static_cast<double>(cycles) * 10) /
                                                10
                                          : 0.0},
         {"node_rss_kib_before", before.rss_kib},
         {"node_rss_kib_peak", round_peak},
         {"node_rss_kib_after", after.rss_kib},
         {"stuck_connections", in_flight}});
    // Connections still open after 20 s: their handlers refer to this round, so stop here.
    if (!drained) break;
  }

  const ProcStats final_stats = deployment.stats();
  out["target_rate"] = rate;
  out["handshakes_per_s"] = std::round(static_cast<double>(total_handshakes) / total_seconds);
  out["cycles_completed"] = total_cycles;
  out["node_rss_kib_baseline"] = baseline.rss_kib;
  out["node_rss_kib_peak"] = peak_rss;
  out["node_rss_kib_after"] = final_stats.rss_kib;
  // "Back to baseline": what is left is within 10% of the peak's growth (allocator caches) or 1 MiB.
  const std::int64_t growth = peak_rss - baseline.rss_kib, left = final_stats.rss_kib - baseline.rss_kib;
  out["node_rss_kib_left"] = left;
  out["rss_returned_to_baseline"] = left <= std::max<std::int64_t>(1024, growth / 10);
  // What a leak would show: memory still growing after the first round, whose residue may be
  // the allocator's own cache.
  if (round_reports.size() > 1)
    out["node_rss_kib_growth_after_round_1"] =
        final_stats.rss_kib - round_reports[0]["node_rss_kib_after"].get<std::int64_t>();
  out["rounds"] = round_reports;
  nlohmann::ordered_json e = nlohmann::ordered_json::object();
  for (const auto& [k, v] : errors) e[k] = v;
  out["client_errors"] = e;
  out["node_metrics"] = deployment.metrics_report();
  out["deployment"] = deployment.describe();
  out["node_exit"] = deployment.stop();
  return out;
}

}  // namespace switchboard::bench
