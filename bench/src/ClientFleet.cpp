#include "ClientFleet.h"

#include <cmath>

#include "Figures.h"
#include "Payload.h"

namespace switchboard::bench {

namespace net = boost::asio;

bool ClientFleet::run_until(net::io_context& ioc, const std::function<bool()>& done,
                            std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    ioc.restart();
    ioc.run_for(std::chrono::milliseconds(10));
  }
  return true;
}

void ClientFleet::run_for(net::io_context& ioc, std::chrono::milliseconds duration) {
  run_until(
      ioc, [] { return false; }, duration);
}

bool ClientFleet::open(const Plan& requested) {
  plan_ = requested;
  const Plan& plan = plan_;
  auto started = std::chrono::steady_clock::now();
  const std::size_t before_ready = ready_, before_failed = failed_;
  next_ = clients_.size();
  end_ = next_ + plan.count;
  clients_.reserve(end_);
  while (in_flight_ < plan.concurrency && next_ < end_) start_next();
  run_until(
      ioc_, [&] { return ready_ + failed_ - before_ready - before_failed == plan.count; }, plan.timeout);
  last_open_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return ready_ - before_ready == plan.count;
}

void ClientFleet::start_next() {
  const Plan& plan = plan_;
  const std::size_t i = next_++;
  ++in_flight_;
  auto client = std::make_shared<BenchClient>(ioc_, i);
  clients_.push_back(client);
  std::string room = plan.room_of ? plan.room_of(i) : std::string();
  if (plan.nats) return start_nats(*client, room);
  client->on_frame([this, handler = plan.on_frame](BenchClient& c, std::string_view frame) {
    if (!c.subscribed && is_subscribe_reply(frame)) {
      c.subscribed = parse_reply(frame).value_or(Reply{}).ok;
      return settle(c.subscribed, c.subscribed ? "" : "subscribe refused: " + std::string(frame));
    }
    if (handler) handler(c, frame);
  });
  client->on_closed([this, waits_reply = !room.empty()](BenchClient& c, const boost::system::error_code& ec) {
    if (waits_reply && !c.subscribed)
      return settle(false, "closed before the subscribe reply: " + ec.message());
    if (closing_all_) return;
    ++unexpected_closes_;
    note("closed by node: " + c.close_reason(ec));
  });
  client->open(plan.endpoint_of(i), [this, room](BenchClient& c, const boost::system::error_code& ec) {
    if (ec) return settle(false, "open: " + ec.message());
    if (room.empty()) return settle(true, "");
    c.send(subscribe_frame(room));
  });
}

void ClientFleet::start_nats(BenchClient& client, const std::string& room) {
  const Plan& plan = plan_;
  client.stream_mode = true;
  client.on_frame([this, handler = plan.on_nats, room](BenchClient& c, std::string_view frame) {
    const bool whole = NatsStream::feed(c.nats_rest, frame, [&](const NatsStream::Event& e) {
      switch (e.kind) {
        case NatsStream::Kind::info:
          if (c.nats_connected) return true;
          c.nats_connected = true;
          c.send(NatsStream::connect_command() + (room.empty() ? "" : NatsStream::sub_command(room, "1")) +
                 "PING\r\n");
          return true;
        case NatsStream::Kind::ping:
          c.send("PONG\r\n");
          return true;
        case NatsStream::Kind::pong:
          if (c.subscribed) break;
          c.subscribed = true;  // CONNECT and SUB handled: ready
          settle(true, "");
          return true;
        case NatsStream::Kind::err:
          if (c.subscribed) break;
          c.subscribed = true;  // settled, as a failure
          settle(false, "refused: " + std::string(e.line));
          return true;
        default:
          break;
      }
      if (handler) handler(c, e);
      return true;
    });
    if (!whole) note("unreadable NATS protocol line");
  });
  client.on_closed([this](BenchClient& c, const boost::system::error_code& ec) {
    if (!c.subscribed) return settle(false, "closed before PONG: " + ec.message());
    if (closing_all_) return;
    ++unexpected_closes_;
    note("closed by server: " + c.close_reason(ec));
  });
  client.open(plan.endpoint_of(client.index()), [this](BenchClient& c, const boost::system::error_code& ec) {
    if (ec) {
      c.subscribed = true;  // settled, as a failure
      settle(false, "open: " + ec.message());
    }
  });
}

void ClientFleet::settle(bool ok, const std::string& error) {
  --in_flight_;
  if (ok) {
    ++ready_;
  } else {
    ++failed_;
    note(error);
  }
  while (in_flight_ < plan_.concurrency && next_ < end_) start_next();
}

void ClientFleet::report_opening(nlohmann::ordered_json& out) const {
  out["connections_ready"] = ready_;
  out["failed"] = failed_;
  out["open_s"] = Figures::rounded(last_open_seconds_, 1000);
  out["handshakes_per_s"] = std::round(static_cast<double>(ready_) / last_open_seconds_);
}

nlohmann::ordered_json ClientFleet::errors() const { return Figures::counts(error_counts_); }

void ClientFleet::add_errors_to(nlohmann::ordered_json& errors) const {
  for (const auto& [error, n] : error_counts_) errors[error] = errors.value(error, std::size_t{0}) + n;
}

void ClientFleet::close_all(std::chrono::milliseconds timeout) {
  closing_all_ = true;
  for (auto& c : clients_) c->close();
  run_until(
      ioc_,
      [&] {
        for (auto& c : clients_)
          if (c->state() != BenchClient::State::closed && c->state() != BenchClient::State::idle)
            return false;
        return true;
      },
      timeout);
}

}  // namespace switchboard::bench
