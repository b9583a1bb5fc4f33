#pragma once
// The life of a client connection, whatever its transport (WebSocketSession, SseSession), kept
// in one place: opened (the dispatcher knows it), closing (a close was decided: nothing more is
// queued, and the close deadline, --close-timeout, bounds how long it may take), finished (gone:
// the dispatcher is told once, every timer stops). Besides, the connection's watches: the write
// deadline (--write-timeout: a write under way that long cuts the connection, 4008), the token's
// expiry (a refresh push, then 4001), and the one slow-consumer rule (--max-queue-bytes). The
// transport does the writing and closing its own way when told to. Used on the connection's
// thread only.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "dispatch/Connection.h"
#include "transport/SessionContext.h"
#include "transport/TokenWatch.h"
#include "transport/WriteDeadline.h"

namespace switchboard::server {

class ConnectionLifecycle {
 public:
  using Executor = boost::asio::any_io_executor;

  // `kind` names the connection in log lines: "connection" (a WebSocket) or "SSE stream".
  ConnectionLifecycle(SessionContext& ctx, const char* kind) : ctx_(ctx), kind_(kind) {}

  bool opened() const { return opened_; }
  bool closing() const { return closing_; }
  bool finished() const { return finished_; }
  // Neither closing nor finished: frames may still be queued.
  bool live() const { return !closing_ && !finished_; }

  // The handshake is done (an SSE stream's head written): the dispatcher knows `conn` from here on.
  void open(const std::shared_ptr<Connection>& conn);

  // (Re)starts the watch of `conn`'s token (identity().expires_at): `refresh` pushes the refresh
  // request while the connection is live; at expiry, `close` is asked for 4001 (and logged).
  // `owner` is kept alive while a wait is pending.
  void watch_token(const Executor& executor, const Connection& conn, std::shared_ptr<void> owner,
                   std::function<void(std::int64_t exp)> refresh, std::function<void(std::uint16_t, std::string)> close);

  // The slow-consumer rule of every transport: more than --max-queue-bytes queued (being written
  // or waiting) in more than one frame; a lone frame (say, a large presence reply) always goes
  // out, only a backlog marks a slow reader. True when `conn` must close with 4008 (then counted
  // and logged).
  bool overflowing(const Connection& conn, std::size_t queued_bytes, std::size_t queued_frames);

  // A write starts: `timed_out` is called, on the connection's thread, if it is still under way
  // after --write-timeout (the watch does not keep `owner` alive).
  void write_started(const Executor& executor, const std::shared_ptr<void>& owner, const std::function<void()>& timed_out);
  void write_finished() { write_deadline_.finished(); }
  // The write deadline passed: true when `conn` is to be cut now (closing from here on; counted as
  // 4008 with the `dropped` frames it leaves unwritten, and logged); false when it was closing
  // already (its close deadline serves) or is gone.
  bool write_timed_out(const Connection& conn, std::size_t dropped);

  // A close is decided: true the first time, while live; from then on the close deadline calls
  // `cut` unless the connection is gone before --close-timeout (it does not keep `owner` alive).
  bool begin_close(const Executor& executor, std::weak_ptr<void> owner, std::function<void()> cut);

  // The connection is gone: true the first time. Every timer stops and, if it was opened, the
  // dispatcher is told (it leaves its rooms).
  bool finish(Connection& conn);

 private:
  void log_end(const Connection& conn, std::string_view verb, const std::string& why) const;

  SessionContext& ctx_;
  const char* kind_;
  bool opened_ = false;
  bool closing_ = false;
  bool finished_ = false;
  std::unique_ptr<boost::asio::steady_timer> close_timer_;  // only for connections being closed
  WriteDeadline write_deadline_;
  TokenWatch token_watch_;
};

}  // namespace switchboard::server
