#include "redis/ShardSubscriber.h"

#include <hiredis/hiredis.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <vector>

#include "redis/RedisBackoff.h"
#include "redis/Resp2Socket.h"
#include "switchboard/cluster/ClusterLog.h"

namespace switchboard::cluster {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

struct ShardSubscriber::Impl : std::enable_shared_from_this<Impl> {
  // What a request sent on the connection was, to match Redis's answer to it.
  enum class Sent { auth, subscribe, unsubscribe, ping };
  struct Request {
    Sent what;
    std::string channel;
  };

  Impl(Strand s, RedisAddress a, std::string n, RedisTiming t)
      : strand(std::move(s)), address(std::move(a)), name(std::move(n)), timing(t), timer(strand), watchdog(strand),
        backoff(timing) {}

  Strand strand;
  RedisAddress address;
  std::string name;
  RedisTiming timing;
  StateHandler on_state;
  PushHandler on_push;
  std::shared_ptr<Resp2Socket> socket;  // this connection attempt's, or the open one
  net::steady_timer timer;     // reconnect backoff
  net::steady_timer watchdog;  // unanswered requests and quiet connections, while up
  RedisBackoff backoff;
  std::deque<Request> sent;  // requests not yet answered, in order
  Clock::time_point last_heard;
  bool told_up = false;  // the state handler heard `true` for the open connection
  std::atomic<bool> stopped{false};  // read by the destructor, on any thread

  bool connected() const { return socket && socket->open(); }

  void warn(std::string_view what, LogSeverity severity = LogSeverity::warn) const {
    log(severity, "redis " + name + ": " + std::string(what));
  }

  void connect() {
    if (stopped) return;
    socket = Resp2Socket::create(strand);
    std::weak_ptr<Impl> weak = weak_from_this();
    socket->connect(
        address, timing.connect_timeout,
        [weak] {
          if (auto self = weak.lock()) self->opened();
        },
        [weak](const redisReply& reply) {
          if (auto self = weak.lock()) self->answer(reply);
        },
        [weak, socket = socket.get()](const std::string& why) {
          auto self = weak.lock();
          if (self && self->socket.get() == socket) self->closed(why);
        });
  }

  void opened() {
    last_heard = Clock::now();
    if (!address.password.empty()) send(Sent::auth, "", {"AUTH", address.password});
    if (backoff.failures() > 0) warn("connected to " + address.describe(), LogSeverity::info);
    backoff.succeeded();
    watch();
    told_up = true;
    if (on_state) on_state(true);
  }

  // The connection could not be made, or was lost (said once, when it had been up).
  void closed(const std::string& why) {
    bool was_up = told_up;
    drop();
    if (was_up) warn("connection lost: " + why);
    else if (backoff.worth_logging()) warn(why + backoff.attempts());
    if (was_up && on_state) on_state(false);
    schedule_reconnect();
  }

  void drop() {
    if (socket) socket->close();
    socket.reset();
    told_up = false;
    watchdog.cancel();
    sent.clear();
  }

  void schedule_reconnect() {
    if (stopped) return;
    timer.expires_after(backoff.next());
    timer.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (!ec && self && !self->socket) self->connect();
    });
  }

  bool send(Sent what, std::string_view channel, const std::vector<std::string_view>& args) {
    if (!connected() || !socket->send(args)) return false;
    if (sent.empty()) last_heard = Clock::now();  // the wait for an answer starts now
    sent.push_back({what, std::string(channel)});
    return true;
  }

  static std::string_view text(const redisReply& r) { return {r.str, r.len}; }
  static bool is_string(const redisReply* r) {
    return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR;
  }

  void push(PushKind kind, std::string_view channel, std::string_view body) {
    if (on_push) on_push(Push{kind, channel, body});
  }

  void answer(const redisReply& reply) {
    last_heard = Clock::now();
    // Pushes: ["smessage", channel, message], ["ssubscribe"|"sunsubscribe", channel, count],
    // and in subscribed mode a PING's ["pong", ""].
    if (reply.type == REDIS_REPLY_ARRAY && reply.elements >= 2 && is_string(reply.element[0]) &&
        is_string(reply.element[1])) {
      std::string_view kind = text(*reply.element[0]);
      std::string_view channel = text(*reply.element[1]);
      if (kind == "smessage" && reply.elements == 3 && is_string(reply.element[2]))
        return push(PushKind::message, channel, text(*reply.element[2]));
      if (kind == "ssubscribe" || kind == "sunsubscribe") {
        bool subscribed = kind == "ssubscribe";
        // The answer to the oldest request, or sent by the server on its own (a slot that moved).
        if (!sent.empty() && sent.front().what == (subscribed ? Sent::subscribe : Sent::unsubscribe) &&
            sent.front().channel == channel)
          sent.pop_front();
        return push(subscribed ? PushKind::subscribed : PushKind::unsubscribed, channel, {});
      }
      if (kind == "pong" && !sent.empty() && sent.front().what == Sent::ping) {
        sent.pop_front();
        return;
      }
    }
    // Anything else answers the oldest request: +OK (AUTH), +PONG, or an error.
    if (sent.empty()) return lose("a reply to no request");
    Request request = std::move(sent.front());
    sent.pop_front();
    if (reply.type != REDIS_REPLY_ERROR) return;
    std::string_view error = text(reply);
    switch (request.what) {
      case Sent::auth:
        warn("AUTH refused: " + std::string(error));
        return lose("AUTH refused");
      case Sent::ping:
        return;
      case Sent::subscribe:
      case Sent::unsubscribe:
        return push(PushKind::refused, request.channel, error);
    }
  }

  // Drops the open connection (or the attempt) and tries again after the backoff.
  void lose(const std::string& why) {
    if (!socket) return;
    closed(why);
  }

  void watch() {
    watchdog.expires_after(timing.reply_timeout / 3);
    watchdog.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || !self->connected()) return;
      auto quiet = Clock::now() - self->last_heard;
      if (!self->sent.empty() && quiet > self->timing.reply_timeout)
        return self->lose("no reply for " + std::to_string(self->timing.reply_timeout.count()) + " ms");
      if (self->sent.empty() && quiet >= self->timing.reply_timeout / 3) self->send(Sent::ping, "", {"PING"});
      self->watch();
    });
  }

  void stop() {
    stopped = true;
    on_state = nullptr;
    on_push = nullptr;
    timer.cancel();
    drop();
  }
};

ShardSubscriber::ShardSubscriber(Strand strand, RedisAddress address, std::string name, RedisTiming timing)
    : impl_(std::make_shared<Impl>(std::move(strand), std::move(address), std::move(name), timing)) {}

ShardSubscriber::~ShardSubscriber() {
  // Stopped already, as the contract asks; if not, it stops on the strand (its handlers must
  // then no longer matter to anyone).
  if (!impl_->stopped) net::post(impl_->strand, [impl = impl_] { impl->stop(); });
}

void ShardSubscriber::start(StateHandler on_state, PushHandler on_push) {
  impl_->on_state = std::move(on_state);
  impl_->on_push = std::move(on_push);
  impl_->connect();
}

void ShardSubscriber::stop() { impl_->stop(); }

void ShardSubscriber::reset(std::string_view why) {
  if (!impl_->stopped) impl_->lose("dropping the connection: " + std::string(why));
}

bool ShardSubscriber::up() const { return impl_->connected(); }
const RedisAddress& ShardSubscriber::address() const { return impl_->address; }

bool ShardSubscriber::subscribe(std::string_view channel) {
  return impl_->send(Impl::Sent::subscribe, channel, {"SSUBSCRIBE", channel});
}

bool ShardSubscriber::unsubscribe(std::string_view channel) {
  return impl_->send(Impl::Sent::unsubscribe, channel, {"SUNSUBSCRIBE", channel});
}

}  // namespace switchboard::cluster
