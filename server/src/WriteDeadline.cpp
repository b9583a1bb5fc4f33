#include "switchboard/server/WriteDeadline.h"

namespace switchboard::server {

void WriteDeadline::started(const boost::asio::any_io_executor& executor, Clock::duration timeout,
                            const std::shared_ptr<void>& owner, const std::function<void()>& expired) {
  if (cancelled_) return;
  if (!state_) {
    state_ = std::make_unique<State>(executor);
    state_->expired = expired;
    state_->timeout = timeout;
  }
  state_->started = Clock::now();
  state_->under_way = true;
  if (!state_->armed) arm(state_->started + state_->timeout, owner);
}

void WriteDeadline::cancel() {
  cancelled_ = true;
  if (state_) state_->timer.cancel();
}

void WriteDeadline::arm(Clock::time_point at, std::weak_ptr<void> owner) {
  state_->armed = true;
  state_->timer.expires_at(at);
  state_->timer.async_wait([this, owner = std::move(owner)](boost::system::error_code ec) mutable {
    // The connection owns this object: gone, nothing is left to check.
    auto alive = owner.lock();
    if (!alive) return;
    State& s = *state_;
    s.armed = false;
    if (ec || cancelled_) return;
    if (!s.under_way) {
      // Nothing is being written: an idle connection keeps no timer (the next write makes one).
      state_.reset();
      return;
    }
    if (Clock::now() - s.started >= s.timeout) return s.expired();
    arm(s.started + s.timeout, std::move(owner));  // a later write: wait for its deadline
  });
}

}  // namespace switchboard::server
