#pragma once
#include <memory>

#include "switchboard/cluster/Broker.h"
#include "switchboard/cluster/IdempotencyKeys.h"
#include "switchboard/cluster/InProcessHistory.h"

namespace switchboard::cluster {

// The embedded broker of a single node: a publish is numbered, kept in the room's history and
// delivered locally before it is acknowledged.
class InProcessBroker final : public Broker {
 public:
  // history_max_bytes: the budget of every room's kept messages together (0: none);
  // idempotency_window: how long a publish's idempotency key is remembered.
  explicit InProcessBroker(HistoryPolicy policy = {}, std::size_t history_max_bytes = 0,
                           std::chrono::milliseconds idempotency_window = kDefaultIdempotencyWindow);
  ~InProcessBroker() override;

  void set_deliver_handler(DeliverHandler handler) override;
  using Broker::publish;
  void publish(const std::string& room, protocol::Payload push, PublishHandler done,
               const std::string& idem) override;
  void history(const std::string& room, std::optional<std::uint64_t> after, std::size_t limit,
               HistoryHandler done) override;
  void subscribe(const std::string& room) override;
  void unsubscribe(const std::string& room) override;
  // Sweeps expired history every few seconds while the event loop runs.
  void start(boost::asio::io_context& ioc) override;
  void stop() override;

  Stats stats() const override;
  std::size_t history_room_count() const { return history_.room_count(); }

 private:
  struct Sweeper;  // the timer, kept out of this header

  DeliverHandler deliver_;
  InProcessHistory history_;
  IdempotencyKeys idempotency_;
  std::unique_ptr<Sweeper> sweeper_;
};

}  // namespace switchboard::cluster
