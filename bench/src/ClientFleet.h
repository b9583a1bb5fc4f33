// Many BenchClients opened against the node(s) with a bounded number of handshakes in flight,
// each subscribed to its room (the subscribe reply awaited), and the loop that drives them.
// With `nats`, against a nats-server: each connection waits for INFO, sends CONNECT, SUB (with
// a room) and PING, and is ready at the PONG; server PINGs are answered.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "BenchClient.h"
#include "NatsStream.h"

namespace switchboard::bench {

class ClientFleet {
 public:
  struct Plan {
    std::size_t count = 0;
    std::function<boost::asio::ip::tcp::endpoint(std::size_t)> endpoint_of;
    std::function<std::string(std::size_t)> room_of;  // empty room: no subscribe
    std::size_t concurrency = 200;                    // handshakes (and subscribes) in flight
    std::chrono::milliseconds timeout = std::chrono::seconds(120);
    BenchClient::FrameHandler on_frame;  // frames other than the subscribe reply
    bool nats = false;
    // With `nats`: every MSG, PONG (but the first), +OK, -ERR or other line the server sends.
    std::function<void(BenchClient&, const NatsStream::Event&)> on_nats;
  };

  explicit ClientFleet(boost::asio::io_context& ioc) : ioc_(ioc) {}

  // Opens plan.count connections (indexes continue after those already opened) and subscribes
  // them; returns once all are subscribed or failed, or at the timeout. True if all succeeded.
  bool open(const Plan& requested);

  std::vector<std::shared_ptr<BenchClient>>& clients() { return clients_; }
  std::size_t ready() const { return ready_; }
  std::size_t failed() const { return failed_; }
  double last_open_seconds() const { return last_open_seconds_; }
  // Open connections that ended without our asking, by close code or error.
  std::size_t unexpected_closes() const { return unexpected_closes_; }
  // "connections_ready", "failed", "open_s" and "handshakes_per_s" of the last open().
  void report_opening(nlohmann::ordered_json& out) const;
  // Failures and unexpected closes by reason, for the report.
  nlohmann::ordered_json errors() const;
  void add_errors_to(nlohmann::ordered_json& errors) const;
  // Closes every open connection and waits (up to `timeout`) for the close handshakes.
  void close_all(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Runs the io_context until done() or the timeout; true if done() held.
  static bool run_until(boost::asio::io_context& ioc, const std::function<bool()>& done,
                        std::chrono::milliseconds timeout);
  // Runs the io_context for `duration`: the clients keep reading, and whatever arrives is handled.
  static void run_for(boost::asio::io_context& ioc, std::chrono::milliseconds duration);

 private:
  void start_next();
  // start_next() for a nats-server.
  void start_nats(BenchClient& client, const std::string& room);
  void settle(bool ok, const std::string& error);
  void note(const std::string& error) { ++error_counts_[error]; }

  boost::asio::io_context& ioc_;
  Plan plan_;
  std::vector<std::shared_ptr<BenchClient>> clients_;
  std::size_t next_ = 0, end_ = 0, in_flight_ = 0, ready_ = 0, failed_ = 0, unexpected_closes_ = 0;
  bool closing_all_ = false;
  double last_open_seconds_ = 0;
  std::map<std::string, std::size_t> error_counts_;
};

}  // namespace switchboard::bench
