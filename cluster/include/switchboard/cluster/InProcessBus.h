#pragma once
#include "switchboard/cluster/Bus.h"

namespace switchboard::cluster {

// The embedded bus of a single node: a publish is delivered locally before it is acknowledged.
class InProcessBus final : public Bus {
 public:
  void set_deliver_handler(DeliverHandler handler) override;
  void publish(const std::string& room, protocol::Payload push, PublishHandler done) override;
  void subscribe(const std::string& room) override;
  void unsubscribe(const std::string& room) override;

 private:
  DeliverHandler deliver_;
};

}  // namespace switchboard::cluster
