#include "switchboard/cluster/InProcessControlChannel.h"

namespace switchboard::cluster {

ControlChannel::~ControlChannel() = default;

const std::string& ControlChannel::node() const {
  static const std::string alone;
  return alone;
}

void InProcessControlChannel::set_handler(Handler handler) { handler_ = std::move(handler); }

void InProcessControlChannel::ask(nlohmann::json query, Gathered done,
                                  std::optional<std::chrono::system_clock::time_point> keep_until) {
  (void)keep_until;  // a node that starts later starts empty: nothing to keep
  std::vector<nlohmann::json> answers;
  if (handler_) answers.push_back(handler_(query));
  auto known = answers.size();
  done(std::move(answers), known);
}

}  // namespace switchboard::cluster
