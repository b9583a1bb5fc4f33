#include "switchboard/cluster/RedisBus.h"

#include <hiredis/hiredis.h>

#include <boost/asio/post.hpp>
#include <cstring>
#include <future>

namespace switchboard::cluster {

namespace net = boost::asio;

RedisBus::RedisBus(RedisAddress address, std::string prefix, RedisConnection::Timing timing)
    : address_(std::move(address)), prefix_(std::move(prefix)), timing_(timing) {}

RedisBus::~RedisBus() {
  // The event loop has stopped by now: nothing else touches the connections.
  subscriber_.reset();
  commands_.reset();
}

void RedisBus::set_deliver_handler(DeliverHandler handler) { deliver_ = std::move(handler); }

void RedisBus::start(net::io_context& ioc) {
  strand_.emplace(net::make_strand(ioc));
  commands_ = std::make_unique<RedisConnection>(*strand_, address_, "commands", timing_);
  subscriber_ = std::make_unique<RedisConnection>(*strand_, address_, "subscriber", timing_);
  net::post(*strand_, [this] {
    commands_->start([this](bool up) {
      commands_up_ = up;
      if (up)
        for (auto& hook : commands_up_hooks_) hook();
    });
    subscriber_->start([this](bool up) { on_subscriber_state(up); },
                       [this](redisReply* reply) { on_push(reply); });
  });
}

void RedisBus::stop() {
  if (!strand_) return;
  std::promise<void> done;
  net::post(*strand_, [this, &done] {
    subscriber_->stop();
    commands_->stop();
    commands_up_ = subscriber_up_ = false;
    done.set_value();
  });
  done.get_future().wait();
}

bool RedisBus::ready() const { return commands_up_ && subscriber_up_ && resubscribed_; }

// Counts down the rooms to subscribe again after the subscriber connection came up.
void RedisBus::confirmed_one() {
  if (unconfirmed_ > 0 && --unconfirmed_ == 0) resubscribed_ = true;
}

void RedisBus::publish(const std::string& room, protocol::Payload push, PublishHandler done) {
  if (!commands_up_) return done(false);
  net::post(*strand_, [this, channel = channel_of(room), push = std::move(push), done = std::move(done)]() mutable {
    std::string framed;
    framed.reserve(push->size() + 1);
    framed += 'm';
    framed += *push;
    bool sent = commands_->command({"PUBLISH", channel, framed}, [done](redisReply* reply) {
      done(reply != nullptr && reply->type == REDIS_REPLY_INTEGER);
    });
    if (!sent) done(false);
  });
}

void RedisBus::subscribe(const std::string& room) {
  net::post(*strand_, [this, room] {
    channels_[room].wanted = true;
    sync(room);
  });
}

void RedisBus::unsubscribe(const std::string& room) {
  net::post(*strand_, [this, room] {
    auto it = channels_.find(room);
    if (it == channels_.end()) return;
    it->second.wanted = false;
    sync(room);
  });
}

void RedisBus::when_subscribed(const std::string& room, SubscribedHandler done) {
  net::post(*strand_, [this, room, done = std::move(done)]() mutable {
    auto it = channels_.find(room);
    if (it == channels_.end() || !it->second.wanted) return done(false);  // unsubscribed meanwhile
    if (it->second.subscribed) return done(true);
    if (!subscriber_->up()) return done(false);
    it->second.waiters.push_back(std::move(done));
  });
}

void RedisBus::notify(Channel& ch, bool subscribed) {
  auto waiters = std::move(ch.waiters);
  ch.waiters.clear();
  for (auto& done : waiters) done(subscribed);
}

// Brings the subscriber connection in line with what the node wants for `room`.
void RedisBus::sync(const std::string& room) {
  auto it = channels_.find(room);
  if (it == channels_.end()) return;
  Channel& ch = it->second;
  if (ch.in_flight || !subscriber_->up()) return;
  if (!ch.wanted && ch.resubscribing) {  // no longer needed: not awaited for readiness
    ch.resubscribing = false;
    confirmed_one();
  }
  if (ch.wanted == ch.subscribed) {
    if (ch.wanted) notify(ch, true);
    else {
      notify(ch, false);
      channels_.erase(it);
    }
    return;
  }
  std::string channel = channel_of(room);
  ch.in_flight = ch.wanted ? subscriber_->subscribe(channel) : subscriber_->unsubscribe(channel);
}

void RedisBus::on_push(redisReply* reply) {
  // ["message", channel, payload] or ["subscribe"|"unsubscribe", channel, count].
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 || reply->element[0]->type != REDIS_REPLY_STRING ||
      reply->element[1]->type != REDIS_REPLY_STRING)
    return;
  std::string_view kind(reply->element[0]->str, reply->element[0]->len);
  std::string_view channel(reply->element[1]->str, reply->element[1]->len);
  std::string room_prefix = prefix_ + "room:";
  if (channel.substr(0, room_prefix.size()) != room_prefix) return;
  std::string room(channel.substr(room_prefix.size()));
  if (kind == "message") {
    const redisReply* body = reply->element[2];
    if (body->type != REDIS_REPLY_STRING || body->len < 1) return;
    auto frame = protocol::make_payload(std::string(body->str + 1, body->len - 1));
    if (body->str[0] == 'm' && deliver_) deliver_(room, frame);
    else if (body->str[0] == 'p' && on_presence_event_) on_presence_event_(room, frame);
    return;
  }
  auto it = channels_.find(room);
  if (it == channels_.end()) return;
  it->second.in_flight = false;
  if (kind == "subscribe" && !it->second.subscribed && it->second.resubscribing) {
    it->second.resubscribing = false;
    confirmed_one();
  }
  if (kind == "subscribe") it->second.subscribed = true;
  else if (kind == "unsubscribe") it->second.subscribed = false;
  sync(room);
}

void RedisBus::on_subscriber_state(bool up) {
  subscriber_up_ = up;
  if (!up) {
    // Redis forgot this connection's subscriptions with it: start over on the next one. Who
    // waits for a subscription now hears that it failed.
    for (auto& [room, ch] : channels_) {
      ch.subscribed = ch.in_flight = ch.resubscribing = false;
      notify(ch, false);
    }
    unconfirmed_ = 0;
    resubscribed_ = false;
    return;
  }
  // Not ready until every room the node had is subscribed again.
  std::vector<std::string> rooms;
  rooms.reserve(channels_.size());
  unconfirmed_ = 0;
  for (auto& [room, ch] : channels_) {
    rooms.push_back(room);
    ch.resubscribing = ch.wanted;
    if (ch.wanted) ++unconfirmed_;
  }
  resubscribed_ = unconfirmed_ == 0;
  for (const auto& room : rooms) sync(room);
}

}  // namespace switchboard::cluster
