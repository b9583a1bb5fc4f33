// connections: many subscribed connections at once (19,000 by default, spread over rooms), then a
// few messages published to every room: how many connections got every one of them, and the
// node's memory per connection.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "Deployment.h"
#include "Options.h"
#include "Traffic.h"

namespace switchboard::bench {

class ConnectionsWorkload {
 public:
  struct Params {
    // --connections, --rooms, --messages-per-room, --payload, --window (publishes unacknowledged),
    // --concurrency (handshakes in flight).
    explicit Params(Options& options);
    std::size_t connections, rooms, per_room;
    // Message k of every room goes out before message k+1 of any: room-major would do as well.
    std::size_t messages;  // rooms · per_room
    std::size_t payload, window, concurrency;
  };

  ConnectionsWorkload(Deployment& deployment, const Params& params);
  // Against a started node.
  nlohmann::ordered_json measure();

 private:
  static std::string room_name(std::size_t r) { return "bench:conn:" + std::to_string(r); }
  // "fd_limit", and a "warning" when it is below what the connections need.
  void check_fd_limit(nlohmann::ordered_json& out) const;
  // With the publisher open: publishes per_room messages to every room, at most `window`
  // unacknowledged, and waits for their deliveries.
  void publish_to_every_room(std::size_t expected);
  void pump();
  // Subscribers open and subscribed.
  std::size_t subscribed();
  // Subscribers still open that got every message of their room.
  std::size_t received_all();
  void report(nlohmann::ordered_json& out, std::size_t expected, std::size_t received_all) const;

  Deployment& deployment_;
  const Params& p_;
  boost::asio::io_context ioc_{1};
  Traffic traffic_;
  ProcStats baseline_, opened_, settled_;
  std::size_t sent_ = 0;
  BenchClient* publisher_ = nullptr;
};

}  // namespace switchboard::bench
