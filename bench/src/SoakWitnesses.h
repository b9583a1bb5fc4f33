// The witnesses of a soak run: subscribers connected throughout, spread over the rooms, that
// note every offset they receive, so that each acknowledged message can be checked to have
// reached every witness of its room once and in order.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "BenchClient.h"
#include "Deployment.h"
#include "SoakLog.h"
#include "SoakPublisher.h"

namespace switchboard::bench {

class SoakWitnesses {
 public:
  SoakWitnesses(boost::asio::io_context& ioc, Deployment& deployment, std::size_t count, std::size_t rooms,
                SoakLog& log);

  // Opens and subscribes them (clients 0 … count-1); subscribed() tells how many are done.
  void open();
  std::size_t subscribed() const { return subscribed_; }
  // Acked offsets some witness has not received (each witness is due those after its start).
  std::int64_t missing(const SoakPublisher& publisher) const;
  // The acked messages the witnesses were due.
  std::int64_t expected(const SoakPublisher& publisher) const;
  std::int64_t duplicates() const;
  std::int64_t out_of_order() const;
  std::int64_t received() const;
  // Closes of a witness by the node.
  std::size_t unexpected_closes() const { return unexpected_closes_; }
  void close();

 private:
  // A witness: `got[offset]` is how often that offset came.
  struct Witness {
    std::shared_ptr<BenchClient> client;
    std::size_t room = 0;
    std::int64_t start = -1;  // the room's offset in the subscribe reply: messages from start + 1 on are due
    std::vector<std::uint8_t> got;
    std::int64_t last = 0, received = 0, duplicates = 0, out_of_order = 0;
  };

  void on_subscribe_reply(Witness& w, BenchClient& c, std::string_view frame);
  void on_message(Witness& w, std::string_view frame);
  std::int64_t sum(std::int64_t Witness::*field) const;

  Deployment& deployment_;
  SoakLog& log_;
  std::vector<Witness> witnesses_;
  std::size_t subscribed_ = 0, unexpected_closes_ = 0;
  bool closing_ = false;
};

}  // namespace switchboard::bench
