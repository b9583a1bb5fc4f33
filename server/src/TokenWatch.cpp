#include "switchboard/server/TokenWatch.h"

#include <algorithm>

namespace switchboard::server {

void TokenWatch::start(const boost::asio::any_io_executor& executor,
                       std::optional<std::chrono::system_clock::time_point> expires_at, std::chrono::seconds leeway,
                       std::shared_ptr<void> owner, Handlers handlers) {
  ++generation_;
  refresh_pushed_ = false;
  if (!expires_at) {
    cancel();
    return;
  }
  handlers_ = std::move(handlers);
  expires_at_ = *expires_at;
  leeway_ = leeway;
  if (!timer_) timer_ = std::make_unique<boost::asio::steady_timer>(executor);
  auto remaining = std::max(expires_at_ - std::chrono::system_clock::now(), std::chrono::system_clock::duration{});
  arm(expires_at_ - std::min<std::chrono::system_clock::duration>(std::chrono::minutes(1), remaining / 2), std::move(owner));
}

void TokenWatch::cancel() {
  ++generation_;
  if (timer_) timer_->cancel();
  handlers_ = {};
}

void TokenWatch::arm(std::chrono::system_clock::time_point at, std::shared_ptr<void> owner) {
  auto delay = std::max(at - std::chrono::system_clock::now(), std::chrono::system_clock::duration{});
  timer_->expires_after(std::chrono::duration_cast<boost::asio::steady_timer::duration>(delay));
  timer_->async_wait([this, owner = std::move(owner), generation = generation_](boost::system::error_code ec) mutable {
    if (!ec) on_timer(generation, std::move(owner));
  });
}

void TokenWatch::on_timer(unsigned generation, std::shared_ptr<void> owner) {
  if (generation != generation_) return;
  if (!refresh_pushed_) {
    refresh_pushed_ = true;
    handlers_.refresh(std::chrono::duration_cast<std::chrono::seconds>(expires_at_.time_since_epoch()).count());
    // The same leeway as at the handshake: a token is good until exp + leeway.
    if (generation == generation_) arm(expires_at_ + leeway_, std::move(owner));
    return;
  }
  auto expire = handlers_.expire;  // it may start a new watch
  expire();
}

}  // namespace switchboard::server
