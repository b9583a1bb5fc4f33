#include "redis/ShardSubscriber.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <array>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <vector>

#include "redis/RedisBackoff.h"
#include "switchboard/cluster/ClusterLog.h"

namespace switchboard::cluster {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

struct ShardSubscriber::Impl : std::enable_shared_from_this<Impl> {
  // What a request sent on the connection was, to match Redis's answer to it.
  enum class Sent { auth, subscribe, unsubscribe, ping };
  struct Request {
    Sent what;
    std::string channel;
  };
  struct ReaderFree {
    void operator()(redisReader* r) const { redisReaderFree(r); }
  };
  struct ReplyFree {
    void operator()(redisReply* r) const { freeReplyObject(r); }
  };

  Impl(Strand s, RedisAddress a, std::string n, RedisTiming t)
      : strand(std::move(s)),
        address(std::move(a)),
        name(std::move(n)),
        timing(t),
        resolver(strand),
        socket(strand),
        timer(strand),
        watchdog(strand),
        backoff(timing) {}

  Strand strand;
  RedisAddress address;
  std::string name;
  RedisTiming timing;
  StateHandler on_state;
  PushHandler on_push;
  tcp::resolver resolver;
  tcp::socket socket;
  net::steady_timer timer;     // connect timeout, then reconnect backoff
  net::steady_timer watchdog;  // unanswered requests and quiet connections, while up
  RedisBackoff backoff;
  std::unique_ptr<redisReader, ReaderFree> reader;
  std::array<char, 16 * 1024> input{};
  std::string outbox;   // formatted commands not yet handed to the socket
  std::string writing;  // what the socket is writing
  std::deque<Request> sent;  // requests not yet answered, in order
  Clock::time_point last_heard;
  // Each connection attempt has its own number: completions of an earlier one are ignored.
  unsigned long generation = 0;
  bool connected = false;  // the socket is connected (AUTH may be pending)
  std::atomic<bool> stopped{false};  // read by the destructor, on any thread

  void warn(std::string_view what, LogSeverity severity = LogSeverity::warn) const {
    log(severity, "redis " + name + ": " + std::string(what));
  }

  void connect() {
    if (stopped) return;
    unsigned long attempt = ++generation;
    timer.expires_after(timing.connect_timeout);
    timer.async_wait([self = shared_from_this(), attempt](boost::system::error_code ec) {
      if (!ec && attempt == self->generation && !self->connected) self->failed("connect timed out");
    });
    resolver.async_resolve(
        address.host, std::to_string(address.port),
        [self = shared_from_this(), attempt](boost::system::error_code ec, const tcp::resolver::results_type& found) {
          if (attempt != self->generation) return;
          if (ec) return self->failed("cannot resolve " + self->address.host + ": " + ec.message());
          net::async_connect(self->socket, found, [self, attempt](boost::system::error_code ec, const tcp::endpoint&) {
            if (attempt != self->generation) return;
            if (ec) return self->failed("cannot connect to " + self->address.describe() + ": " + ec.message());
            self->opened();
          });
        });
  }

  void opened() {
    timer.cancel();
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    socket.set_option(net::socket_base::keep_alive(true), ignored);  // a peer gone without a reset
    reader.reset(redisReaderCreate());
    connected = true;
    last_heard = Clock::now();
    if (!address.password.empty()) send(Sent::auth, "", {"AUTH", address.password});
    if (backoff.failures() > 0) warn("connected to " + address.describe(), LogSeverity::info);
    backoff.succeeded();
    read();
    watch();
    if (on_state) on_state(true);
  }

  // A connection attempt that did not get through.
  void failed(const std::string& why) {
    warn(why);
    close();
    schedule_reconnect();
  }

  // The connection, up until now, is gone.
  void lost(std::string_view why) {
    if (!connected) return;
    warn("connection lost: " + std::string(why));
    close();
    if (on_state) on_state(false);
    schedule_reconnect();
  }

  void close() {
    ++generation;  // what is still pending of this connection is ignored
    connected = false;
    boost::system::error_code ignored;
    resolver.cancel();
    socket.close(ignored);
    timer.cancel();
    watchdog.cancel();
    reader.reset();
    outbox.clear();
    writing.clear();
    sent.clear();
  }

  void schedule_reconnect() {
    if (stopped) return;
    timer.expires_after(backoff.next());
    timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec && !self->connected) self->connect();
    });
  }

  bool send(Sent what, std::string_view channel, const std::vector<std::string_view>& args) {
    if (!connected) return false;
    std::vector<const char*> argv;
    std::vector<std::size_t> argvlen;
    for (auto a : args) {
      argv.push_back(a.data());
      argvlen.push_back(a.size());
    }
    char* command = nullptr;
    int length = redisFormatCommandArgv(&command, static_cast<int>(args.size()), argv.data(), argvlen.data());
    if (length < 0) return false;
    outbox.append(command, static_cast<std::size_t>(length));
    redisFreeCommand(command);
    if (sent.empty()) last_heard = Clock::now();  // the wait for an answer starts now
    sent.push_back({what, std::string(channel)});
    if (writing.empty()) write();
    return true;
  }

  void write() {
    writing.swap(outbox);
    net::async_write(socket, net::buffer(writing),
                     [self = shared_from_this(), attempt = generation](boost::system::error_code ec, std::size_t) {
                       if (attempt != self->generation) return;
                       if (ec) return self->lost("write failed: " + ec.message());
                       self->writing.clear();
                       if (!self->outbox.empty()) self->write();
                     });
  }

  void read() {
    socket.async_read_some(
        net::buffer(input), [self = shared_from_this(), attempt = generation](boost::system::error_code ec, std::size_t n) {
          if (attempt != self->generation) return;
          if (ec) return self->lost(ec == net::error::eof ? "closed" : ec.message());
          self->last_heard = Clock::now();
          if (redisReaderFeed(self->reader.get(), self->input.data(), n) != REDIS_OK)
            return self->lost("unreadable reply");
          for (;;) {
            void* raw = nullptr;
            if (redisReaderGetReply(self->reader.get(), &raw) != REDIS_OK) return self->lost("unreadable reply");
            if (!raw) break;
            std::unique_ptr<redisReply, ReplyFree> reply(static_cast<redisReply*>(raw));
            self->answer(*reply);
            if (attempt != self->generation) return;  // a handler stopped or reset the connection
          }
          self->read();
        });
  }

  static std::string_view text(const redisReply& r) { return {r.str, r.len}; }
  static bool is_string(const redisReply* r) {
    return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR;
  }

  void push(PushKind kind, std::string_view channel, std::string_view body) {
    if (on_push) on_push(Push{kind, channel, body});
  }

  void answer(const redisReply& reply) {
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
    if (sent.empty()) return lost("a reply to no request");
    Request request = std::move(sent.front());
    sent.pop_front();
    if (reply.type != REDIS_REPLY_ERROR) return;
    std::string_view error = text(reply);
    switch (request.what) {
      case Sent::auth:
        warn("AUTH refused: " + std::string(error));
        return lost("AUTH refused");
      case Sent::ping:
        return;
      case Sent::subscribe:
      case Sent::unsubscribe:
        return push(PushKind::refused, request.channel, error);
    }
  }

  void watch() {
    watchdog.expires_after(timing.reply_timeout / 3);
    watchdog.async_wait([self = shared_from_this(), attempt = generation](boost::system::error_code ec) {
      if (ec || attempt != self->generation) return;
      auto quiet = Clock::now() - self->last_heard;
      if (!self->sent.empty() && quiet > self->timing.reply_timeout)
        return self->lost("no reply for " + std::to_string(self->timing.reply_timeout.count()) + " ms");
      if (self->sent.empty() && quiet >= self->timing.reply_timeout / 3) self->send(Sent::ping, "", {"PING"});
      self->watch();
    });
  }

  void stop() {
    stopped = true;
    on_state = nullptr;
    on_push = nullptr;
    close();
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
  if (impl_->stopped) return;
  if (impl_->connected) return impl_->lost("dropping the connection: " + std::string(why));
  impl_->close();
  impl_->schedule_reconnect();
}

bool ShardSubscriber::up() const { return impl_->connected; }
const RedisAddress& ShardSubscriber::address() const { return impl_->address; }

bool ShardSubscriber::subscribe(std::string_view channel) {
  return impl_->send(Impl::Sent::subscribe, channel, {"SSUBSCRIBE", channel});
}

bool ShardSubscriber::unsubscribe(std::string_view channel) {
  return impl_->send(Impl::Sent::unsubscribe, channel, {"SUNSUBSCRIBE", channel});
}

}  // namespace switchboard::cluster
