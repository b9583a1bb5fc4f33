#include "switchboard/cluster/InProcessBus.h"

namespace switchboard::cluster {

void InProcessBus::set_deliver_handler(DeliverHandler handler) { deliver_ = std::move(handler); }

void InProcessBus::publish(const std::string& room, protocol::Payload push, PublishHandler done) {
  if (deliver_) deliver_(room, push);
  done(true);
}

// The node's room registry already knows which rooms have local subscribers,
// and a single node has no one else to tell.
void InProcessBus::subscribe(const std::string&) {}
void InProcessBus::unsubscribe(const std::string&) {}

}  // namespace switchboard::cluster
