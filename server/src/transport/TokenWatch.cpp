#include "transport/TokenWatch.h"

#include <algorithm>

namespace switchboard::server {

void TokenWatch::start(const boost::asio::any_io_executor& executor,
                       std::optional<std::chrono::system_clock::time_point> expires_at, std::chrono::seconds leeway,
                       std::shared_ptr<void> owner, Handlers handlers) {
  if (!expires_at) {
    cancel();
    return;
  }
  ++generation_;
  if (!state_) state_ = std::make_unique<State>(executor);
  state_->refresh_pushed = false;
  state_->handlers = std::move(handlers);
  state_->expires_at = *expires_at;
  state_->leeway = leeway;
  auto remaining = std::max(state_->expires_at - std::chrono::system_clock::now(), std::chrono::system_clock::duration{});
  arm(state_->expires_at - std::min<std::chrono::system_clock::duration>(std::chrono::minutes(1), remaining / 2),
      std::move(owner));
}

void TokenWatch::cancel() {
  ++generation_;
  if (!state_) return;
  state_->timer.cancel();
  state_->handlers = {};
}

void TokenWatch::arm(std::chrono::system_clock::time_point at, std::shared_ptr<void> owner) {
  auto delay = std::max(at - std::chrono::system_clock::now(), std::chrono::system_clock::duration{});
  state_->timer.expires_after(std::chrono::duration_cast<boost::asio::steady_timer::duration>(delay));
  state_->timer.async_wait([this, owner = std::move(owner), generation = generation_](boost::system::error_code ec) mutable {
    if (!ec) on_timer(generation, std::move(owner));
  });
}

void TokenWatch::on_timer(unsigned generation, std::shared_ptr<void> owner) {
  if (generation != generation_) return;
  State& s = *state_;
  if (!s.refresh_pushed) {
    s.refresh_pushed = true;
    s.handlers.refresh(std::chrono::duration_cast<std::chrono::seconds>(s.expires_at.time_since_epoch()).count());
    // The same leeway as at the handshake: a token is good until exp + leeway.
    if (generation == generation_) arm(s.expires_at + s.leeway, std::move(owner));
    return;
  }
  auto expire = s.handlers.expire;  // it may start a new watch
  expire();
}

}  // namespace switchboard::server
