#include "transport/IdleWatch.h"

#include <algorithm>

namespace switchboard::server {

boost::asio::execution_context::id IdleWatch::id;

IdleWatch::IdleWatch(boost::asio::io_context& ioc) : boost::asio::execution_context::service(ioc), timer_(ioc) {}

void IdleWatch::watch(Client& client, const std::shared_ptr<void>& owner, Clock::duration timeout) {
  entries_.push_back({&client, owner});
  timeout_ = timeout;  // one node-wide setting
  if (!armed_) arm();
}

void IdleWatch::arm() {
  armed_ = true;
  timer_.expires_after(std::max<Clock::duration>(timeout_ / 2, std::chrono::milliseconds(10)));
  timer_.async_wait([this](boost::system::error_code ec) {
    armed_ = false;
    if (!ec) check();
  });
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
  if (!entries_.empty()) arm();
  for (auto* client : told) client->idle_timed_out();
}

void IdleWatch::shutdown() {
  entries_.clear();
  timer_.cancel();
}

}  // namespace switchboard::server
