// The churning connections of a soak run. Each opens, subscribes to a room and ends after its
// first message (or --hold-ms after the subscribe reply). Connection i is dropped without a
// close frame when floor((i+1)·f) > floor(i·f) (f: --drop-fraction): evenly spread, the drops
// taking turns between RST, FIN (both after the first message), RST right after sending the
// subscribe, and RST in the middle of the HTTP upgrade request.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string_view>

#include <nlohmann/json.hpp>

#include "BenchClient.h"
#include "Deployment.h"
#include "SoakLog.h"

namespace switchboard::bench {

class SoakChurn {
 public:
  // How a churning connection ends.
  enum class Ending { clean, reset, fin, reset_before_reply, reset_in_upgrade };
  // The running counts, for the figures of a phase (their differences).
  struct Counts {
    std::size_t launched = 0, opened = 0, failed_opens = 0, closed = 0, clean_closes = 0,
                closed_without_message = 0;
    std::map<Ending, std::size_t> drops;
  };

  SoakChurn(boost::asio::io_context& ioc, Deployment& deployment, std::size_t rooms, double drop_fraction,
            std::chrono::milliseconds hold, SoakLog& log);

  // Launches the next connection.
  void launch();
  std::size_t in_flight() const { return in_flight_; }
  const Counts& counts() const { return counts_; }
  std::size_t closed_by_node() const { return closed_by_node_; }
  std::int64_t messages() const { return messages_; }
  std::int64_t order_errors() const { return order_errors_; }
  // The drops since `before`, by kind ("rst", "fin", "rst_before_reply", "rst_in_upgrade"); adds them to
  // `total`.
  nlohmann::ordered_json drops_since(const Counts& before, std::size_t& total) const;

 private:
  struct Churner {
    explicit Churner(boost::asio::io_context& ioc) : hold(ioc) {}
    std::shared_ptr<BenchClient> client;
    boost::asio::steady_timer
        hold;  // closes the connection if no message comes within --hold-ms of the reply
    Ending ending = Ending::clean;
    bool ended = false;  // we have started to end it
    bool got_message = false;
    std::int64_t last = -1;  // offset of the last message, from the subscribe reply on
  };

  Ending ending_of(std::size_t i) const;
  // A TCP connection that sends half of the upgrade request (no blank line) and is reset.
  void launch_half_upgrade();
  void on_opened(const std::shared_ptr<Churner>& ch, std::size_t room, BenchClient& c,
                 const boost::system::error_code& ec);
  void on_subscribe_reply(const std::shared_ptr<Churner>& ch, std::string_view frame);
  void on_message(Churner& ch, std::string_view frame);
  void on_closed(Churner& ch, BenchClient& c, const boost::system::error_code& ec);
  void end_connection(Churner& ch);
  void open_failed(const boost::system::error_code& ec);

  boost::asio::io_context& ioc_;
  Deployment& deployment_;
  const std::size_t rooms_;
  const double drop_fraction_;
  const std::chrono::milliseconds hold_;
  SoakLog& log_;
  Counts counts_;
  std::size_t in_flight_ = 0, closed_by_node_ = 0, index_ = 0;
  std::int64_t messages_ = 0, order_errors_ = 0;
};

}  // namespace switchboard::bench
