// The publisher of a soak run: publishes round-robin over the rooms and keeps, per room, every
// offset the node acknowledged (the messages each witness of that room is due).
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

namespace switchboard::bench {

class SoakPublisher {
 public:
  SoakPublisher(boost::asio::io_context& ioc, Deployment& deployment, std::size_t index, std::size_t rooms,
                std::size_t payload, SoakLog& log);

  void open();
  bool is_open() const { return open_; }
  // The node closed it.
  bool closed_by_node() const { return closed_by_node_; }
  // Publishes the messages up to number `due` (message n to room n mod rooms).
  void publish_up_to(std::int64_t due);
  // Every publish has had its reply.
  bool all_answered() const { return acks_ + errors_ + offset_duplicates_ == sent_; }
  void close();

  // acked(r)[offset] is non-zero for every offset acknowledged in room r.
  const std::vector<std::uint8_t>& acked(std::size_t room) const { return acked_[room]; }
  std::int64_t acked_count(std::size_t room) const { return acked_count_[room]; }
  std::int64_t acked_total() const;
  // Offsets skipped by the acks: those of one room are 1, 2, 3, …
  std::int64_t offset_holes() const;
  std::int64_t sent() const { return sent_; }
  std::int64_t errors() const { return errors_; }
  std::int64_t offset_duplicates() const { return offset_duplicates_; }

 private:
  void on_frame(std::string_view frame);
  void record_ack(std::size_t room, std::int64_t offset);

  Deployment& deployment_;
  SoakLog& log_;
  const std::size_t rooms_, payload_;
  std::shared_ptr<BenchClient> client_;
  std::vector<std::uint32_t> room_of_seq_{0};  // by publish id (= seq, from 1)
  std::vector<std::vector<std::uint8_t>> acked_;
  std::vector<std::int64_t> acked_count_, acked_max_;
  std::int64_t sent_ = 0, acks_ = 0, errors_ = 0, offset_duplicates_ = 0;
  bool open_ = false, closed_by_node_ = false, closing_ = false;
};

}  // namespace switchboard::bench
