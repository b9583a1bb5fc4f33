#include "redis/RedisConnection.h"

#include "redis/RedisArgv.h"
#include "switchboard/cluster/ClusterLog.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <iostream>

namespace switchboard::cluster {

namespace net = boost::asio;

namespace {
void log_line(std::string_view name, std::string_view what, LogSeverity severity = LogSeverity::warn) {
  log(severity, "redis " + std::string(name) + ": " + std::string(what));
}
}  // namespace

// hiredis's event hooks on Asio: it asks for readiness to read or write, and we call
// redisAsyncHandleRead/Write when the socket is ready, re-arming while it still wants to.
// hiredis owns the socket: the descriptor is released, never closed, when hiredis cleans up.
struct RedisConnection::Watcher : std::enable_shared_from_this<Watcher> {
  Watcher(const Strand& strand, redisAsyncContext* context) : descriptor(strand, context->c.fd), ac(context) {}

  net::posix::stream_descriptor descriptor;
  redisAsyncContext* ac;  // null once hiredis has cleaned up
  bool want_read = false, want_write = false;
  bool read_armed = false, write_armed = false;

  void arm(bool read) {
    bool& armed = read ? read_armed : write_armed;
    if (armed || !ac) return;
    armed = true;
    descriptor.async_wait(read ? net::posix::stream_descriptor::wait_read : net::posix::stream_descriptor::wait_write,
                          [self = shared_from_this(), read](boost::system::error_code ec) {
                            (read ? self->read_armed : self->write_armed) = false;
                            if (ec || !self->ac || !(read ? self->want_read : self->want_write)) return;
                            // May free the context (cleanup then clears ac): hold on to self meanwhile.
                            if (read) redisAsyncHandleRead(self->ac);
                            else redisAsyncHandleWrite(self->ac);
                            if (self->ac && (read ? self->want_read : self->want_write)) self->arm(read);
                          });
  }

  static Watcher* of(void* data) { return static_cast<Watcher*>(data); }
  static void add_read(void* data) {
    of(data)->want_read = true;
    of(data)->arm(true);
  }
  static void del_read(void* data) { of(data)->want_read = false; }
  static void add_write(void* data) {
    of(data)->want_write = true;
    of(data)->arm(false);
  }
  static void del_write(void* data) { of(data)->want_write = false; }
  static void cleanup(void* data) {
    Watcher* w = of(data);
    w->ac = nullptr;
    w->want_read = w->want_write = false;
    boost::system::error_code ec;
    w->descriptor.cancel(ec);
    w->descriptor.release();
  }
};

RedisConnection::RedisConnection(Strand strand, RedisAddress address, std::string name, Timing timing)
    : strand_(std::move(strand)),
      address_(std::move(address)),
      name_(std::move(name)),
      timing_(timing),
      timer_(strand_),
      watchdog_(strand_),
      backoff_(timing_) {}

RedisConnection::~RedisConnection() {
  stopped_ = true;
  on_state_ = nullptr;
  if (ac_) {
    redisAsyncContext* ac = ac_;
    ac_ = nullptr;
    redisAsyncFree(ac);  // runs the pending handlers with nullptr
  }
}

void RedisConnection::start(StateHandler on_state, PushHandler on_push) {
  on_state_ = std::move(on_state);
  on_push_ = std::move(on_push);
  connect();
}

void RedisConnection::stop() {
  stopped_ = true;
  timer_.cancel();
  watchdog_.cancel();
  if (!ac_) return;
  redisAsyncContext* ac = ac_;
  bool was_connected = ac->c.flags & REDIS_CONNECTED;
  redisAsyncFree(ac);  // a connected context reports through on_disconnect
  if (!was_connected) {
    ac_ = nullptr;
    watcher_.reset();
  }
}

void RedisConnection::reset(std::string_view why) {
  if (!ac_ || stopped_) return;
  log_line(name_, std::string("dropping the connection: ") + std::string(why));
  redisAsyncContext* ac = ac_;
  bool was_connected = ac->c.flags & REDIS_CONNECTED;
  redisAsyncFree(ac);
  if (!was_connected) {
    ac_ = nullptr;
    watcher_.reset();
    schedule_reconnect();
  }
}

void RedisConnection::retry_now() {
  if (ac_ || stopped_) return;
  timer_.cancel();
  connect();
}

void RedisConnection::connect() {
  if (stopped_) return;
  if (!source_) return open();
  source_([this, asked = ++asks_](std::optional<RedisAddress> found) {
    if (stopped_ || asked != asks_ || ac_) return;
    if (!found) return schedule_reconnect();
    address_ = std::move(*found);
    open();
  });
}

void RedisConnection::open() {
  redisAsyncContext* ac = redisAsyncConnect(address_.host.c_str(), address_.port);
  if (!ac || ac->err) {
    if (backoff_.worth_logging())
      log_line(name_, std::string("cannot connect to ") + address_.describe() + ": " +
                          (ac ? ac->errstr : "out of memory") + backoff_.attempts());
    if (ac) redisAsyncFree(ac);
    return schedule_reconnect();
  }
  ac_ = ac;
  ac->data = this;
  watcher_ = std::make_shared<Watcher>(strand_, ac);
  ac->ev.data = watcher_.get();
  ac->ev.addRead = &Watcher::add_read;
  ac->ev.delRead = &Watcher::del_read;
  ac->ev.addWrite = &Watcher::add_write;
  ac->ev.delWrite = &Watcher::del_write;
  ac->ev.cleanup = &Watcher::cleanup;
  redisAsyncSetConnectCallback(ac, &RedisConnection::on_connect);  // waits for writability
  redisAsyncSetDisconnectCallback(ac, &RedisConnection::on_disconnect);
  timer_.expires_after(timing_.connect_timeout);
  timer_.async_wait([this, ac, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
    if (!ec && !alive.expired() && ac_ == ac && !up_) reset("connect timed out");
  });
}

void RedisConnection::on_connect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (status != REDIS_OK) {
    // hiredis frees the context right after this returns.
    if (self->backoff_.worth_logging())
      log_line(self->name_, "cannot connect to " + self->address_.describe() + ": " + ac->errstr +
                                self->backoff_.attempts());
    self->ac_ = nullptr;
    self->watcher_.reset();
    return self->schedule_reconnect();
  }
  self->connected();
}

void RedisConnection::connected() {
  auto refuse = [this](std::string what) {
    return [this, what](redisReply* reply) {
      if (reply && reply->type == REDIS_REPLY_ERROR) {
        log_line(name_, what + " refused: " + std::string(reply->str, reply->len));
        reset(what + " refused");
      }
    };
  };
  // Sent ahead of everything else on this connection, so they apply to every later command.
  if (!address_.password.empty()) send_checked({"AUTH", address_.password}, refuse("AUTH"));
  if (address_.db != 0) send_checked({"SELECT", std::to_string(address_.db)}, refuse("SELECT"));
  if (!require_master_) return went_up();
  // Up only at a master (a sentinel's answer may be stale; a demoted master still answers reads).
  // The connect timeout still runs meanwhile.
  send_checked({"ROLE"}, [this, ac = ac_](redisReply* reply) {
    if (!reply || ac_ != ac) return;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 && reply->element[0]->type == REDIS_REPLY_STRING &&
        std::string_view(reply->element[0]->str, reply->element[0]->len) == "master")
      return went_up();
    reset(address_.describe() + " is not the master (any longer)");
  });
}

void RedisConnection::went_up() {
  timer_.cancel();
  if (backoff_.failures() > 0) log_line(name_, "connected to " + address_.describe(), LogSeverity::info);
  redisEnableKeepAlive(&ac_->c);  // a peer gone without a reset is noticed by TCP too
  backoff_.succeeded();
  unanswered_ = 0;
  last_reply_ = std::chrono::steady_clock::now();
  up_ = true;
  watch_replies();
  if (on_state_) on_state_(true);
}

void RedisConnection::on_disconnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  self->lost(status == REDIS_OK ? "closed" : ac->errstr);
}

void RedisConnection::watch_replies() {
  watchdog_.expires_after(timing_.reply_timeout / 3);
  watchdog_.async_wait([this, ac = ac_, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
    if (ec || alive.expired() || ac_ != ac || !up_) return;
    if (unanswered_ > 0 && std::chrono::steady_clock::now() - last_reply_ > timing_.reply_timeout)
      return reset("no reply for " + std::to_string(timing_.reply_timeout.count()) + " ms");
    watch_replies();
  });
}

void RedisConnection::lost(std::string_view why) {
  watchdog_.cancel();
  ac_ = nullptr;
  watcher_.reset();
  bool was_up = up_;
  up_ = false;
  if (stopped_) return;
  log_line(name_, std::string("connection lost: ") + std::string(why));
  if (was_up && on_state_) on_state_(false);
  schedule_reconnect();
}

void RedisConnection::schedule_reconnect() {
  if (stopped_) return;
  timer_.expires_after(backoff_.next());
  timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
    if (!ec && !alive.expired() && !stopped_ && !ac_) connect();
  });
}

bool RedisConnection::send(const std::vector<std::string_view>& args, void (*callback)(redisAsyncContext*, void*, void*),
                           void* privdata) {
  if (!ac_ || !(ac_->c.flags & REDIS_CONNECTED)) return false;
  RedisArgv argv(args);
  return redisAsyncCommandArgv(ac_, callback, privdata, argv.count(), argv.argv.data(), argv.lengths.data()) == REDIS_OK;
}

bool RedisConnection::send_checked(const std::vector<std::string_view>& args, ReplyHandler done) {
  auto* handler = new ReplyHandler(std::move(done));
  if (send(args, &RedisConnection::on_reply, handler)) {
    if (unanswered_++ == 0) last_reply_ = std::chrono::steady_clock::now();  // the wait starts now
    return true;
  }
  delete handler;
  return false;
}

bool RedisConnection::command(const std::vector<std::string_view>& args, ReplyHandler done) {
  if (!up_) return false;
  return send_checked(args, std::move(done));
}

void RedisConnection::on_reply(redisAsyncContext* ac, void* reply, void* privdata) {
  std::unique_ptr<ReplyHandler> handler(static_cast<ReplyHandler*>(privdata));
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (reply && self) {
    self->last_reply_ = std::chrono::steady_clock::now();
    if (self->unanswered_ > 0) --self->unanswered_;
    auto* r = static_cast<redisReply*>(reply);
    if (r->type == REDIS_REPLY_ERROR && self->on_error_) self->on_error_(std::string_view(r->str, r->len));
  }
  (*handler)(static_cast<redisReply*>(reply));
}

bool RedisConnection::subscribe(std::string_view channel) {
  return up_ && send({"SUBSCRIBE", channel}, &RedisConnection::on_push, nullptr);
}

bool RedisConnection::unsubscribe(std::string_view channel) {
  return up_ && send({"UNSUBSCRIBE", channel}, &RedisConnection::on_push, nullptr);
}

void RedisConnection::on_push(redisAsyncContext* ac, void* reply, void*) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (reply) self->last_reply_ = std::chrono::steady_clock::now();
  if (reply && self->on_push_) self->on_push_(static_cast<redisReply*>(reply));
}

}  // namespace switchboard::cluster
