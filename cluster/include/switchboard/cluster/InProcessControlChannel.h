#pragma once
#include <mutex>

#include "switchboard/cluster/ControlChannel.h"

namespace switchboard::cluster {

// The control channel of a single node: its own handler answers every query at once, on the
// asker's thread; it is the only node the cluster knows.
class InProcessControlChannel final : public ControlChannel {
 public:
  void set_handler(Handler handler) override;
  void ask(nlohmann::json query, Gathered done,
           std::optional<std::chrono::system_clock::time_point> keep_until = std::nullopt) override;

 private:
  Handler handler_;
};

}  // namespace switchboard::cluster
