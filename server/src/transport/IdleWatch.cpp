#include "transport/IdleWatch.h"

namespace switchboard::server {

boost::asio::execution_context::id IdleWatch::id;

IdleWatch::IdleWatch(boost::asio::io_context& ioc) : EventLoopWatch(ioc) {}

void IdleWatch::watch(Client& client, const std::shared_ptr<void>& owner, Clock::duration timeout) {
  entries_.push_back({&client, owner});
  timeout_ = timeout;  // one node-wide setting
  arm(timeout_ / 2);
}

void IdleWatch::check() {
  std::vector<std::shared_ptr<void>> timed_out;  // held until told: a connection may go when told
  std::vector<Client*> told;
  std::size_t kept = 0;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    auto owner = entries_[i].owner.lock();
    if (!owner) continue;  // the connection is gone
    if (kept != i) entries_[kept] = std::move(entries_[i]);  // (a weak_ptr moved onto itself empties)
    Client& client = *entries_[kept++].client;
    if (client.heard_) {
      client.heard_ = false;
      client.pinged_ = false;
    } else if (!client.pinged_) {
      client.pinged_ = true;
      client.send_ping();
    } else {
      told.push_back(&client);
      timed_out.push_back(std::move(owner));
    }
  }
  entries_.resize(kept);
  if (!entries_.empty()) arm(timeout_ / 2);
  for (auto* client : told) client->idle_timed_out();
}

void IdleWatch::shutdown() {
  entries_.clear();
  stop();
}

}  // namespace switchboard::server
