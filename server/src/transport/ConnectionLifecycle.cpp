#include "transport/ConnectionLifecycle.h"

#include "switchboard/protocol/CloseCode.h"
#include "switchboard/server/Log.h"

namespace switchboard::server {

namespace close_code = protocol::close_code;

void ConnectionLifecycle::log_end(const Connection& conn, std::string_view verb, const std::string& why) const {
  log::info(std::string(verb) + " " + kind_ + " " + std::to_string(conn.id()) + " (" + conn.identity().user + "): " + why);
}

void ConnectionLifecycle::open(const std::shared_ptr<Connection>& conn) {
  opened_ = true;
  ctx_.dispatcher.open(conn);
}

void ConnectionLifecycle::watch_token(const Executor& executor, const Connection& conn, std::shared_ptr<void> owner,
                                      std::function<void(std::int64_t)> refresh,
                                      std::function<void(std::uint16_t, std::string)> close) {
  token_watch_.start(executor, conn.identity().expires_at, ctx_.config.jwt_leeway, std::move(owner),
                     {[this, refresh = std::move(refresh)](std::int64_t exp) {
                        if (live()) refresh(exp);
                      },
                      [this, &conn, close = std::move(close)] {
                        if (!live()) return;
                        log_end(conn, "closing", "token expired");
                        close(close_code::token_expired, "token expired");
                      }});
}

bool ConnectionLifecycle::overflowing(const Connection& conn, std::size_t queued_bytes, std::size_t queued_frames) {
  if (queued_bytes <= ctx_.config.max_queue_bytes || queued_frames <= 1) return false;
  ++ctx_.metrics.slow_consumers;
  log_end(conn, "closing", "slow consumer, " + std::to_string(queued_bytes) + " bytes queued");
  return true;
}

void ConnectionLifecycle::write_started(const Executor& executor, const std::shared_ptr<void>& owner,
                                        const std::function<void()>& timed_out) {
  write_deadline_.started(executor, ctx_.config.write_timeout, owner, timed_out);
}

bool ConnectionLifecycle::write_timed_out(const Connection& conn, std::size_t dropped) {
  if (!live()) return false;  // a closing connection has its own deadline
  // The client has taken nothing for --write-timeout: it would not take a close either.
  closing_ = true;
  ++ctx_.metrics.slow_consumers;
  ++ctx_.metrics.write_timeouts;
  ctx_.metrics.count_close(close_code::slow_consumer);
  ctx_.metrics.deliveries_dropped_slow_consumer += dropped;
  log_end(conn, "cutting",
          "no write progress for " +
              std::to_string(std::chrono::duration_cast<std::chrono::seconds>(ctx_.config.write_timeout).count()) + " s");
  return true;
}

bool ConnectionLifecycle::begin_close(const Executor& executor, std::weak_ptr<void> owner, std::function<void()> cut) {
  if (!live()) return false;
  closing_ = true;
  // A peer that does not read never takes the close: cut the connection after a bound.
  close_timer_ = std::make_unique<boost::asio::steady_timer>(executor, ctx_.config.close_timeout);
  close_timer_->async_wait([owner = std::move(owner), cut = std::move(cut)](boost::system::error_code ec) {
    if (ec) return;
    if (auto alive = owner.lock()) cut();
  });
  return true;
}

bool ConnectionLifecycle::finish(Connection& conn) {
  if (finished_) return false;
  finished_ = true;
  if (close_timer_) close_timer_->cancel();
  write_deadline_.cancel();
  token_watch_.cancel();
  if (opened_) ctx_.dispatcher.close(conn);
  return true;
}

}  // namespace switchboard::server
