// The clients of a fanout, latency, connections or idle run, and the tally of what they got:
// subscribers, each in its room, spread round-robin over the nodes, and publishers on node 0.
// Every benchmark delivery is counted and checked to follow the connection's previous one.
// Against a nats-server (--broker nats), the same over NATS: SUB for subscribe, PUB + PING for
// a publish (its PONG counted as the acknowledgement), MSG for a delivery.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "ClientFleet.h"
#include "Deployment.h"
#include "Payload.h"

namespace switchboard::bench {

class Traffic {
 public:
  struct Subscribers {
    std::size_t count = 0;
    std::function<std::string(std::size_t)> room_of;
    // Each benchmark delivery, once counted and checked.
    std::function<void(BenchClient&, const Delivery&)> on_delivery;
    std::size_t concurrency = 200;  // handshakes in flight
    std::chrono::milliseconds timeout = std::chrono::seconds(120);
  };

  Traffic(boost::asio::io_context& ioc, Deployment& deployment);

  void open_subscribers(const Subscribers& plan);
  // `on_reply` gets each publish reply, once counted (an error reply too).
  void open_publishers(std::size_t count, std::function<void(const Reply&)> on_reply);
  // A benchmark message for `room`: publish_frame(), or a NATS PUB + PING with the same data.
  std::string publish_frame(std::string_view room, std::int64_t seq, std::int64_t sent_ns,
                            std::size_t payload_bytes) const;
  // True if every subscriber and publisher asked for is open; otherwise `out` says so
  // ("error", "client_errors").
  bool ready(nlohmann::ordered_json& out) const;

  // "deliveries", "expected", "lost", "order_errors", "publish_errors", "first_publish_error"
  // (with_first_error, when there was one) and "other_frames".
  void report_deliveries(nlohmann::ordered_json& out, std::size_t expected, bool with_first_error) const;
  // "unexpected_closes", "client_errors" (subscribers' and publishers') and "node_metrics".
  void report_clients(nlohmann::ordered_json& out) const;
  // Closes every connection, waiting up to `subscribers_timeout` for the subscribers' close handshakes.
  void close_all(std::chrono::milliseconds subscribers_timeout = std::chrono::seconds(10));

  ClientFleet& subscribers() { return subscribers_; }
  ClientFleet& publishers() { return publishers_; }
  const ClientFleet& subscribers() const { return subscribers_; }

  std::size_t deliveries = 0, order_errors = 0, other_frames = 0, acked = 0, publish_errors = 0;
  std::string first_publish_error;

 private:
  void on_subscriber_frame(BenchClient& c, std::string_view frame);
  void on_publisher_frame(std::string_view frame);
  void on_delivery(BenchClient& c, const Delivery& d);
  void on_nats_subscriber(BenchClient& c, const NatsStream::Event& e);
  void on_nats_publisher(const NatsStream::Event& e);

  Deployment& deployment_;
  ClientFleet subscribers_, publishers_;
  std::size_t subscribers_wanted_ = 0, publishers_wanted_ = 0;
  std::function<void(BenchClient&, const Delivery&)> on_delivery_;
  std::function<void(const Reply&)> on_reply_;
};

}  // namespace switchboard::bench
