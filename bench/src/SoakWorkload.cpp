#include "SoakWorkload.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/websocket/error.hpp>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "BenchClient.h"
#include "ClientFleet.h"
#include "Deployment.h"
#include "Payload.h"

namespace switchboard::bench {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::string_view kRoomPrefix = "bench:soak:";

// The integer after `key` (its first occurrence, or its last with from_end).
std::optional<std::int64_t> int_after(std::string_view frame, std::string_view key, bool from_end = false) {
  auto pos = from_end ? frame.rfind(key) : frame.find(key);
  if (pos == std::string_view::npos) return std::nullopt;
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(frame.data() + pos + key.size(), frame.data() + frame.size(), value);
  if (ec != std::errc()) return std::nullopt;
  return value;
}

struct Message {
  std::size_t room = 0;
  std::int64_t offset = 0;
};

// {"type":"message","room":"bench:soak:<r>","data":{…},"from":"…","offset":K}: the room's index
// and K. The benchmark's data holds no "offset" key, so the last one is the message's.
std::optional<Message> parse_message(std::string_view frame) {
  constexpr std::string_view prefix = R"({"type":"message","room":")";
  if (!frame.starts_with(prefix)) return std::nullopt;
  auto room_end = frame.find('"', prefix.size());
  if (room_end == std::string_view::npos) return std::nullopt;
  auto room = frame.substr(prefix.size(), room_end - prefix.size());
  if (!room.starts_with(kRoomPrefix)) return std::nullopt;
  Message m;
  auto [end, ec] = std::from_chars(room.data() + kRoomPrefix.size(), room.data() + room.size(), m.room);
  if (ec != std::errc()) return std::nullopt;
  auto offset = int_after(frame, R"(,"offset":)", true);
  if (!offset) return std::nullopt;
  m.offset = *offset;
  return m;
}

// Entries of /proc/<pid>/fd: the node's open descriptors (sockets, epoll, eventfd, log, …); -1 if gone.
long count_fds(pid_t pid) {
  std::error_code ec;
  long n = 0;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end; !ec && it != end;
       it.increment(ec))
    ++n;
  return ec ? -1 : n;
}

// A witness: a subscriber connected throughout. `got[offset]` is how often that offset came.
struct Witness {
  std::shared_ptr<BenchClient> client;
  std::size_t room = 0;
  std::int64_t start = -1;  // the room's offset in the subscribe reply: messages from start + 1 on are due
  std::vector<std::uint8_t> got;
  std::int64_t last = 0, received = 0, duplicates = 0, out_of_order = 0;
};

// How a churning connection ends.
enum class Ending { clean, reset, fin, reset_before_reply, reset_in_upgrade };

struct Churner {
  explicit Churner(net::io_context& ioc) : hold(ioc) {}
  std::shared_ptr<BenchClient> client;
  net::steady_timer hold;  // closes the connection if no message comes within --hold-ms of the reply
  Ending ending = Ending::clean;
  bool ended = false;      // we have started to end it
  bool got_message = false;
  std::int64_t last = -1;  // offset of the last message, from the subscribe reply on
};

}  // namespace

nlohmann::ordered_json SoakWorkload::run(Options& options) {
  const auto connections = static_cast<std::size_t>(options.integer("connections", 10000));
  const auto warmup_connections = static_cast<std::size_t>(options.integer("warmup-connections", 1000));
  const double rate = options.number("rate", 200);  // connections opened per second
  const auto max_in_flight = static_cast<std::size_t>(options.integer("max-in-flight", 100));
  const double drop_fraction = options.number("drop-fraction", 0.2);
  const auto hold = std::chrono::milliseconds(options.integer("hold-ms", 1000));
  const auto witnesses_n = static_cast<std::size_t>(options.integer("witnesses", 20));
  const auto rooms = static_cast<std::size_t>(options.integer("rooms", 4));
  const double publish_rate = options.number("publish-rate", 200);
  const auto payload = static_cast<std::size_t>(options.integer("payload", 64));
  const auto settle = std::chrono::milliseconds(options.integer("settle-ms", 10000));
  const auto quiet = std::chrono::milliseconds(options.integer("quiet-ms", 1000));
  Deployment deployment(options);
  options.reject_unknown();
  if (rooms == 0 || witnesses_n < rooms) throw std::invalid_argument("soak wants --witnesses >= --rooms >= 1");
  deployment.start(1);
  const pid_t node_pid = deployment.node(0).pid();
  auto room_name = [](std::size_t r) { return std::string(kRoomPrefix) + std::to_string(r); };

  net::io_context ioc(1);
  std::map<std::string, std::size_t> errors;
  std::size_t other_frames = 0;
  ClientFleet::run_until(
      ioc, [] { return false; }, std::chrono::milliseconds(300));
  const long fds_fresh = count_fds(node_pid);
  const ProcStats fresh = deployment.stats();

  // --- Witnesses, subscribed before anything is published.
  std::vector<Witness> witnesses(witnesses_n);
  std::size_t witnesses_subscribed = 0, witness_unexpected_closes = 0;
  bool closing_everything = false;
  for (std::size_t i = 0; i < witnesses_n; ++i) {
    Witness& w = witnesses[i];
    w.room = i % rooms;
    w.client = std::make_shared<BenchClient>(ioc, i);
    w.client->on_frame([&, &w = w](BenchClient& c, std::string_view frame) {
      if (!c.subscribed && frame.starts_with(R"({"id":"s",)")) {
        auto reply = parse_reply(frame);
        auto offset = int_after(frame, R"("offset":)");
        if (!reply || !reply->ok || !offset) {
          ++errors["witness subscribe: " + std::string(frame)];
          return;
        }
        c.subscribed = true;
        w.start = w.last = *offset;
        ++witnesses_subscribed;
        return;
      }
      auto m = parse_message(frame);
      if (!m) return void(++other_frames);
      ++w.received;
      if (m->room != w.room || m->offset < 1) return void(++errors["witness: message of another room"]);
      if (m->offset != w.last + 1) ++w.out_of_order;
      w.last = m->offset;
      if (w.got.size() <= static_cast<std::size_t>(m->offset)) w.got.resize(static_cast<std::size_t>(m->offset) * 2, 0);
      if (w.got[static_cast<std::size_t>(m->offset)]++ > 0) ++w.duplicates;
    });
    w.client->on_closed([&](BenchClient& c, const boost::system::error_code& ec) {
      if (closing_everything) return;
      ++witness_unexpected_closes;
      ++errors["witness closed: code " + std::to_string(c.close_code()) + " (" + ec.message() + ")"];
    });
    w.client->open(deployment.endpoint(0), [&, r = w.room](BenchClient& c, const boost::system::error_code& ec) {
      if (ec) return void(++errors["witness open: " + ec.message()]);
      c.send(subscribe_frame(room_name(r)));
    });
  }

  // --- The publisher: every acked offset, per room.
  auto publisher = std::make_shared<BenchClient>(ioc, witnesses_n);
  std::vector<std::uint32_t> room_of_seq{0};  // by publish id (= seq, from 1)
  std::vector<std::vector<std::uint8_t>> acked(rooms);
  std::vector<std::int64_t> acked_count(rooms, 0), acked_max(rooms, 0);
  std::int64_t sent = 0, acks = 0, publish_errors = 0, ack_offset_duplicates = 0;
  bool publisher_open = false, publisher_closed = false;
  publisher->on_frame([&](BenchClient&, std::string_view frame) {
    auto reply = parse_reply(frame);
    if (!reply) return void(++other_frames);
    std::int64_t seq = 0;
    std::from_chars(reply->id.data(), reply->id.data() + reply->id.size(), seq);
    if (seq < 1 || seq > sent) return void(++errors["publisher: reply with an unknown id: " + std::string(frame)]);
    auto offset = int_after(frame, R"("offset":)");
    if (!reply->ok || !offset || *offset < 1) {
      ++publish_errors;
      ++errors["publish: " + std::string(frame)];
      return;
    }
    ++acks;
    const std::size_t r = room_of_seq[static_cast<std::size_t>(seq)];
    auto& a = acked[r];
    const auto off = static_cast<std::size_t>(*offset);
    if (a.size() <= off) a.resize(off * 2, 0);
    if (a[off]++ > 0) {
      ++ack_offset_duplicates;
      return;
    }
    ++acked_count[r];
    acked_max[r] = std::max(acked_max[r], *offset);
  });
  publisher->on_closed([&](BenchClient& c, const boost::system::error_code& ec) {
    if (closing_everything) return;
    publisher_closed = true;
    ++errors["publisher closed: code " + std::to_string(c.close_code()) + " (" + ec.message() + ")"];
  });
  publisher->open(deployment.endpoint(0), [&](BenchClient&, const boost::system::error_code& ec) {
    if (ec) return void(++errors["publisher open: " + ec.message()]);
    publisher_open = true;
  });
  const bool clients_ready = ClientFleet::run_until(
      ioc, [&] { return witnesses_subscribed == witnesses_n && publisher_open; }, std::chrono::seconds(30));
  if (!clients_ready) throw std::runtime_error("soak: witnesses or publisher could not connect");

  // Acked offsets some witness has not received (each witness is due those after its start).
  auto missing = [&] {
    std::int64_t lost = 0;
    for (const Witness& w : witnesses) {
      const auto& a = acked[w.room];
      for (std::size_t off = static_cast<std::size_t>(w.start) + 1; off < a.size(); ++off)
        if (a[off] && (off >= w.got.size() || !w.got[off])) ++lost;
    }
    return lost;
  };

  // --- Churn.
  std::size_t launched = 0, opened = 0, failed_opens = 0, closed = 0, clean_closes = 0, in_flight = 0,
              closed_without_message = 0, closed_by_node = 0, index = 0;
  std::int64_t churn_messages = 0, churn_order_errors = 0;
  std::map<Ending, std::size_t> drops;
  std::size_t phase_target = 0, phase_launched = 0;
  Clock::time_point phase_start;

  // Connection i is dropped without a close frame when floor((i+1)·f) > floor(i·f): evenly spread,
  // the drops taking turns between RST, FIN (both after the first message), RST right after
  // sending the subscribe, and RST in the middle of the HTTP upgrade request.
  auto ending_of = [&](std::size_t i) {
    const auto before = static_cast<std::size_t>(std::floor(static_cast<double>(i) * drop_fraction));
    const auto after = static_cast<std::size_t>(std::floor(static_cast<double>(i + 1) * drop_fraction));
    if (after == before) return Ending::clean;
    static constexpr Ending kinds[] = {Ending::reset, Ending::fin, Ending::reset_before_reply,
                                       Ending::reset_in_upgrade};
    return kinds[before % 4];
  };
  auto end_connection = [&](Churner& ch) {
    if (ch.ended) return;
    ch.ended = true;
    ch.hold.cancel();
    if (ch.ending == Ending::clean)
      ch.client->close();
    else
      ch.client->abort(ch.ending == Ending::reset);
  };
  // A TCP connection that sends half of the upgrade request (no blank line) and is reset.
  auto launch_half_upgrade = [&] {
    auto socket = std::make_shared<net::ip::tcp::socket>(ioc);
    socket->async_connect(deployment.endpoint(0), [&, socket](const boost::system::error_code& ec) {
      if (ec) {
        --in_flight;
        ++failed_opens;
        return void(++errors["open: " + ec.message()]);
      }
      ++opened;
      socket->set_option(net::ip::tcp::no_delay(true));
      auto request = std::make_shared<const std::string>(
          "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
      net::async_write(*socket, net::buffer(*request),
                       [&, socket, request](const boost::system::error_code&, std::size_t) {
                         boost::system::error_code ignored;
                         socket->set_option(net::socket_base::linger(true, 0), ignored);
                         socket->close(ignored);
                         --in_flight;
                         ++closed;
                         ++drops[Ending::reset_in_upgrade];
                       });
    });
  };
  auto launch = [&] {
    ++launched;
    ++phase_launched;
    ++in_flight;
    const std::size_t i = index++;
    if (ending_of(i) == Ending::reset_in_upgrade) return launch_half_upgrade();
    auto ch = std::make_shared<Churner>(ioc);
    ch->ending = ending_of(i);
    ch->client = std::make_shared<BenchClient>(ioc, i);
    const std::string room = room_name(i % rooms);
    ch->client->on_frame([&, ch](BenchClient& c, std::string_view frame) {
      if (!c.subscribed && frame.starts_with(R"({"id":"s",)")) {
        c.subscribed = true;
        if (ch->ended) return;  // dropped right after the subscribe
        auto reply = parse_reply(frame);
        auto offset = int_after(frame, R"("offset":)");
        if (!reply || !reply->ok || !offset) {
          ++errors["subscribe: " + std::string(frame)];
          return end_connection(*ch);
        }
        ch->last = *offset;
        ch->hold.expires_after(hold);
        ch->hold.async_wait([&, ch](const boost::system::error_code& ec) {
          if (ec || ch->ended) return;
          ++closed_without_message;
          end_connection(*ch);
        });
        return;
      }
      auto m = parse_message(frame);
      if (!m) return void(++other_frames);
      ++churn_messages;
      if (ch->last < 0) return void(++errors["churn: message before the subscribe reply"]);
      if (m->offset != ch->last + 1) ++churn_order_errors;
      ch->last = m->offset;
      if (!ch->got_message) {
        ch->got_message = true;
        end_connection(*ch);
      }
    });
    ch->client->on_closed([&, ch](BenchClient& c, const boost::system::error_code& ec) {
      --in_flight;
      ++closed;
      ch->hold.cancel();
      if (!ch->ended) {
        ++closed_by_node;
        ++errors["churn closed by node: code " + std::to_string(c.close_code()) + " (" + ec.message() + ")"];
      } else if (ch->ending == Ending::clean) {
        const bool clean =
            ec == boost::beast::websocket::error::closed || ec == boost::asio::error::operation_aborted;
        if (clean && c.close_code() == 1000)
          ++clean_closes;
        else
          ++errors["churn close: code " + std::to_string(c.close_code()) + " (" + ec.message() + ")"];
      } else {
        ++drops[ch->ending];
      }
      ch->client.reset();  // the handlers are cleared after this returns: nothing refers to ch then
    });
    ch->client->open(deployment.endpoint(0), [&, ch, room](BenchClient& c, const boost::system::error_code& ec) {
      if (ec) {
        --in_flight;
        ++failed_opens;
        ++errors["open: " + ec.message()];
        c.on_frame(nullptr);
        c.on_closed(nullptr);
        ch->client.reset();
        return;
      }
      ++opened;
      c.send(subscribe_frame(room));
      if (ch->ending == Ending::reset_before_reply) {
        ch->ended = true;
        // Once the subscribe is written (a loopback write completes at once).
        net::post(ioc, [ch] {
          if (ch->client) ch->client->abort(true);
        });
      }
    });
  };

  // --- One 1 ms tick: publishes due at --publish-rate, connections due at --rate (at most
  // --max-in-flight at once; late ones are launched later, none is skipped), samples every 50 ms.
  bool publishing = true, ticking = true, sampling = false;
  std::int64_t rss_peak = 0;
  long fds_peak = 0;
  const auto publish_start = Clock::now();
  auto last_sample = publish_start;
  net::steady_timer tick(ioc);
  std::function<void()> arm = [&] {
    tick.expires_after(std::chrono::milliseconds(1));
    tick.async_wait([&](const boost::system::error_code& ec) {
      if (ec || !ticking) return;
      const auto now = Clock::now();
      if (publishing) {
        const auto due = static_cast<std::int64_t>(std::chrono::duration<double>(now - publish_start).count() *
                                                   publish_rate);
        while (sent < due) {
          ++sent;
          const auto r = static_cast<std::uint32_t>(static_cast<std::size_t>(sent) % rooms);
          room_of_seq.push_back(r);
          publisher->send(publish_frame(room_name(r), sent, now_ns(), payload));
        }
      }
      const auto due = std::min<std::size_t>(
          phase_target,
          static_cast<std::size_t>(std::chrono::duration<double>(now - phase_start).count() * rate));
      while (phase_launched < due && in_flight < max_in_flight) launch();
      if (sampling && now - last_sample >= std::chrono::milliseconds(50)) {
        last_sample = now;
        rss_peak = std::max(rss_peak, deployment.stats().rss_kib);
        fds_peak = std::max(fds_peak, count_fds(node_pid));
      }
      arm();
    });
  };
  auto run_phase = [&](std::size_t count) {
    phase_target = count;
    phase_launched = 0;
    phase_start = Clock::now();
    const auto limit = std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(count) / rate * 3000)) +
                       std::chrono::seconds(60);
    const bool done = ClientFleet::run_until(
        ioc, [&] { return (phase_launched == count && in_flight == 0) || !deployment.alive(); }, limit);
    return std::chrono::duration<double>(Clock::now() - phase_start).count() * (done ? 1 : -1);
  };
  const double expected_connections = static_cast<double>(witnesses_n + 1);
  auto wait_for_connections = [&](double n, std::chrono::milliseconds timeout) {
    return ClientFleet::run_until(
        ioc, [&] { return !deployment.alive() || deployment.metric("switchboard_connections") == n; }, timeout);
  };
  arm();

  // --- Warm-up: the same churn and publishing, so that the baseline is the allocator's steady state.
  const double warmup_seconds = run_phase(warmup_connections);
  wait_for_connections(expected_connections, std::chrono::seconds(20));
  ClientFleet::run_until(
      ioc, [] { return false; }, quiet);
  const long fds_baseline = count_fds(node_pid);
  const ProcStats baseline = deployment.stats();
  const std::size_t warmup_opened = opened;
  rss_peak = baseline.rss_kib;
  fds_peak = fds_baseline;
  const std::int64_t cpu_before = baseline.cpu_us;
  const std::size_t opened_before = opened, closed_before = closed, failed_before = failed_opens,
                    clean_before = clean_closes, without_message_before = closed_without_message;
  const auto drops_before = drops;
  const std::int64_t sent_before = sent;

  // --- The soak.
  sampling = true;
  const double churn_seconds = run_phase(connections);
  const ProcStats churned = deployment.stats();
  rss_peak = std::max(rss_peak, churned.rss_kib);
  sampling = false;
  publishing = false;
  const std::int64_t sent_during = sent - sent_before;
  // Every publish answered, then every acked message at every witness.
  const bool all_answered = ClientFleet::run_until(
      ioc, [&] { return acks + publish_errors + ack_offset_duplicates == sent || !deployment.alive(); },
      std::chrono::seconds(10));
  const bool all_delivered = ClientFleet::run_until(
      ioc, [&] { return missing() == 0 || !deployment.alive(); }, std::chrono::seconds(10));
  ticking = false;
  tick.cancel();
  const bool connections_settled = wait_for_connections(expected_connections, std::chrono::seconds(20));
  const double node_connections = deployment.metric("switchboard_connections");

  // Closes are asynchronous: measure until back at the baseline, for up to --settle-ms.
  long fds_after = 0;
  ProcStats after;
  int attempts = 0;
  const auto settle_start = Clock::now();
  auto rss_tolerance = [&] { return std::max<std::int64_t>(2048, (rss_peak - baseline.rss_kib) / 10); };
  for (;;) {
    ++attempts;
    fds_after = count_fds(node_pid);
    after = deployment.stats();
    rss_peak = std::max(rss_peak, after.rss_kib);
    const bool back = fds_after == fds_baseline && after.rss_kib - baseline.rss_kib <= rss_tolerance();
    if (back || Clock::now() - settle_start >= settle || !deployment.alive()) break;
    ClientFleet::run_until(
        ioc, [] { return false; }, std::chrono::milliseconds(500));
  }
  const double settle_seconds = std::chrono::duration<double>(Clock::now() - settle_start).count();
  // Late duplicates would have come by now.
  const std::int64_t lost = missing();
  std::int64_t duplicates = 0, out_of_order = 0, witness_messages = 0;
  for (const Witness& w : witnesses) {
    duplicates += w.duplicates;
    out_of_order += w.out_of_order;
    witness_messages += w.received;
  }
  std::int64_t acked_total = 0, ack_offset_holes = 0;
  for (std::size_t r = 0; r < rooms; ++r) {
    acked_total += acked_count[r];
    ack_offset_holes += acked_max[r] - acked_count[r];  // the offsets of one room are 1, 2, 3, …
  }
  const auto node_metrics = deployment.metrics_report();

  // Everything closed: the node should be back to its fresh descriptor count.
  closing_everything = true;
  for (auto& w : witnesses) w.client->close();
  publisher->close();
  const bool emptied = wait_for_connections(0, std::chrono::seconds(10));
  long fds_empty = count_fds(node_pid);
  for (int i = 0; i < 20 && fds_empty != fds_fresh; ++i) {
    ClientFleet::run_until(
        ioc, [] { return false; }, std::chrono::milliseconds(250));
    fds_empty = count_fds(node_pid);
  }
  const bool node_alive = deployment.alive();

  const bool fds_returned = fds_after == fds_baseline;
  const std::int64_t rss_left = after.rss_kib - baseline.rss_kib;
  const bool rss_returned = rss_left <= rss_tolerance();
  auto r1 = [](double x) { return std::round(x * 10) / 10; };
  const std::size_t soak_opened = opened - opened_before, soak_closed = closed - closed_before;
  nlohmann::ordered_json drop_report = nlohmann::ordered_json::object();
  std::size_t soak_drops = 0;
  for (auto [kind, name] : {std::pair{Ending::reset, "rst"}, std::pair{Ending::fin, "fin"},
                            std::pair{Ending::reset_before_reply, "rst_before_reply"},
                            std::pair{Ending::reset_in_upgrade, "rst_in_upgrade"}}) {
    const std::size_t n = drops[kind] - (drops_before.count(kind) ? drops_before.at(kind) : 0);
    drop_report[name] = n;
    soak_drops += n;
  }

  // A run that did not get through (the node closed a witness or the publisher, publishes left
  // unanswered, connections left over) proves nothing: it fails too, and says why.
  nlohmann::ordered_json problems = nlohmann::ordered_json::array();
  if (!node_alive) problems.push_back("the node died");
  if (lost) problems.push_back(std::to_string(lost) + " acked messages missing at a witness");
  if (duplicates) problems.push_back(std::to_string(duplicates) + " duplicate deliveries to witnesses");
  if (out_of_order) problems.push_back(std::to_string(out_of_order) + " out-of-order deliveries to witnesses");
  if (ack_offset_duplicates || ack_offset_holes) problems.push_back("publish acks: offsets duplicated or skipped");
  if (!fds_returned)
    problems.push_back("node descriptors: " + std::to_string(fds_after) + " after, " + std::to_string(fds_baseline) +
                       " at the baseline");
  if (fds_empty != fds_fresh)
    problems.push_back("node descriptors with no connection: " + std::to_string(fds_empty) + ", fresh " +
                       std::to_string(fds_fresh));
  if (churn_seconds <= 0) problems.push_back("churn did not finish: " + std::to_string(in_flight) + " in flight");
  if (!all_answered) problems.push_back("publishes left unanswered");
  if (publisher_closed || witness_unexpected_closes) problems.push_back("the node closed the publisher or a witness");
  if (!connections_settled) problems.push_back("switchboard_connections did not return to witnesses + 1");
  if (churn_order_errors) problems.push_back("out-of-order deliveries to churning connections");

  nlohmann::ordered_json out;
  out["passed"] = problems.empty();
  out["problems"] = problems;
  out["lost"] = lost;
  out["duplicates"] = duplicates;
  out["fds_returned"] = fds_returned;
  out["rss_returned"] = rss_returned;
  out["connections_opened"] = soak_opened;
  out["connections_closed"] = soak_closed;
  out["drops"] = soak_drops;
  out["acked_messages"] = acked_total;
  out["node_fds"] = {{"fresh", fds_fresh}, {"baseline", fds_baseline}, {"peak", fds_peak},
                     {"after", fds_after}, {"after_closing_all", fds_empty}};
  out["node_rss_kib"] = {{"fresh", fresh.rss_kib},    {"baseline", baseline.rss_kib}, {"peak", rss_peak},
                         {"after", after.rss_kib},    {"left", rss_left},             {"tolerance", rss_tolerance()},
                         {"after_closing_all", deployment.stats().rss_kib}};
  out["settle"] = {{"attempts", attempts},
                   {"seconds", r1(settle_seconds)},
                   {"node_connections", node_connections},
                   {"connections_settled", connections_settled},
                   {"all_publishes_answered", all_answered},
                   {"all_delivered", all_delivered},
                   {"emptied_after_closing_all", emptied}};
  out["warmup"] = {{"connections_opened", warmup_opened}, {"seconds", r1(std::abs(warmup_seconds))}};
  out["churn"] = {{"connections_launched", launched - warmup_connections},
                  {"connections_opened", soak_opened},
                  {"failed_opens", failed_opens - failed_before},
                  {"connections_closed", soak_closed},
                  {"clean_closes", clean_closes - clean_before},
                  {"drops", drop_report},
                  {"closed_by_node", closed_by_node},
                  {"closed_without_message", closed_without_message - without_message_before},
                  {"still_open", in_flight},
                  {"seconds", r1(std::abs(churn_seconds))},
                  {"finished", churn_seconds > 0},
                  {"connections_per_s", std::round(static_cast<double>(soak_opened) / std::abs(churn_seconds))},
                  // The node's CPU over the soak (publishing and deliveries included), in cores.
                  {"node_cpu_util", std::round(static_cast<double>(churned.cpu_us - cpu_before) /
                                               (std::abs(churn_seconds) * 1e6) * 100) /
                                        100},
                  {"messages_received", churn_messages},
                  {"order_errors", churn_order_errors}};
  out["publish"] = {{"rate", publish_rate},
                    {"sent", sent},
                    {"sent_during_soak", sent_during},
                    {"acked", acked_total},
                    {"errors", publish_errors},
                    {"ack_offset_duplicates", ack_offset_duplicates},
                    {"ack_offset_holes", ack_offset_holes}};
  out["witnesses"] = {{"count", witnesses_n},
                      {"rooms", rooms},
                      {"messages_received", witness_messages},
                      {"expected", [&] {
                         std::int64_t n = 0;
                         for (const Witness& w : witnesses) n += acked_count[w.room];
                         return n;
                       }()},
                      {"lost", lost},
                      {"duplicates", duplicates},
                      {"out_of_order", out_of_order},
                      {"unexpected_closes", witness_unexpected_closes}};
  nlohmann::ordered_json e = nlohmann::ordered_json::object();
  for (const auto& [k, v] : errors) e[k] = v;
  out["client_errors"] = e;
  out["other_frames"] = other_frames;
  out["node_metrics"] = node_metrics;
  out["deployment"] = deployment.describe();
  out["node_exit"] = deployment.stop();
  return out;
}

}  // namespace switchboard::bench
