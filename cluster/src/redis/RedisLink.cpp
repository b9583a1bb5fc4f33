#include "redis/RedisLink.h"

#include <hiredis/hiredis.h>

#include <boost/asio/post.hpp>
#include <future>
#include <stdexcept>

#include "redis/RedisReply.h"
#include "redis/ScriptUnit.h"
#include "switchboard/cluster/ClusterLog.h"
#include "switchboard/cluster/RandomId.h"

namespace switchboard::cluster {

namespace net = boost::asio;

RedisLink::RedisLink(RedisAddress address, std::string prefix, RedisTiming timing, RedisKeys::Layout layout)
    : address_(std::move(address)),
      keys_(std::move(prefix), layout),
      timing_(timing),
      tag_("switchboard link " + random_id()) {}

void RedisLink::use(const RedisScript& script) {
  scripts_.emplace_back(&script, script.tagged(tag_, sharded() ? "SPUBLISH" : "PUBLISH"));
}

void RedisLink::shard_over(ClusterTopology::Options options) {
  if (!scripts_.empty()) throw std::logic_error("RedisLink::shard_over after use()");
  topology_options_ = std::move(options);
}

const RedisScript& RedisLink::own(const RedisScript& script) const {
  for (const auto& [shared, copy] : scripts_)
    if (shared == &script) return copy;
  throw std::logic_error("a Redis script run before use()");
}

RedisLink::~RedisLink() {
  // The event loop has stopped by now: nothing else touches the connections.
  router_.reset();
  subscriber_.reset();
  commands_.reset();
  sentinel_.reset();
}

void RedisLink::start(net::io_context& ioc) {
  strand_.emplace(net::make_strand(ioc));
  if (topology_options_) return start_router();
  commands_ = std::make_unique<RedisConnection>(*strand_, address_, "commands", timing_);
  subscriber_ = std::make_unique<RedisConnection>(*strand_, address_, "subscriber", timing_);
  if (sentinel_options_) {
    sentinel_ = std::make_unique<SentinelResolver>(*strand_, *sentinel_options_);
    master_check_ = std::make_unique<net::steady_timer>(*strand_);
    for (auto* connection : {commands_.get(), subscriber_.get()}) {
      connection->set_address_source([this](RedisConnection::Found found) { sentinel_->resolve(std::move(found)); });
      connection->require_master();
    }
    // A write refused by a replica: the master moved (the connections drop once, whatever the
    // number of calls refused).
    commands_->on_error_reply([this](std::string_view error) {
      if (!error.starts_with("READONLY") || master_lost_posted_) return;
      master_lost_posted_ = true;
      net::post(*strand_, [this] { master_lost("Redis answered READONLY"); });
    });
  }
  net::post(*strand_, [this] {
    if (sentinel_) {
      sentinel_->start([this](std::string_view why) { master_lost(why); });
      check_master();
    }
    commands_->start([this](bool up) { commands_changed(up); });
    subscriber_->start(
        [this](bool up) {
          subscriber_up_ = up;
          for (auto& handler : subscriber_state_) handler(up);
        },
        [this](redisReply* reply) { on_push(reply); });
  });
}

void RedisLink::start_router() {
  router_ = std::make_unique<ClusterRouter>(*strand_, *topology_options_, "cluster");
  for (const auto& [shared, copy] : scripts_) router_->use(copy);
  subscriber_up_ = true;
  net::post(*strand_, [this] {
    router_->start([this](std::string_view channel, std::string_view body) { channel_message(channel, body); },
                   [this](const std::string& channel, Subscription state) {
                     auto room = keys_.room_of_channel(channel);
                     if (room && subscription_) subscription_(*room, state);
                   },
                   [this](bool up, const std::string& master) {
                     Serves serves = [this, master](std::string_view key) { return router_->serves(master, key); };
                     for (auto& handler : commands_state_) handler(up, serves);
                   });
    for (auto& handler : subscriber_state_) handler(true);
  });
}

void RedisLink::stop() {
  if (!strand_) return;
  std::promise<void> done;
  net::post(*strand_, [this, &done] {
    if (router_) {
      router_->stop();
      subscriber_up_ = false;
      return done.set_value();
    }
    subscriber_->stop();
    commands_->stop();
    if (sentinel_) {
      sentinel_->stop();
      master_check_->cancel();
    }
    commands_up_ = subscriber_up_ = false;
    done.set_value();
  });
  done.get_future().wait();
}

// The master moved (or may have): both connections connect again, to the one the sentinels name.
void RedisLink::master_lost(std::string_view why) {
  master_lost_posted_ = false;
  log(LogSeverity::warn, "Redis master changed (" + std::string(why) + "): asking the sentinels again");
  for (auto* connection : {commands_.get(), subscriber_.get()}) {
    if (connection->up()) connection->reset(why);
    else connection->retry_now();  // no need to wait out the backoff
  }
}

// Every check_period: the command connection's Redis is still the master (a master demoted by
// hand keeps its connections; Sentinel drops them when it reconfigures one).
void RedisLink::check_master() {
  master_check_->expires_after(sentinel_options_->check_period);
  master_check_->async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    check_master();
    commands_->command({"ROLE"}, [this](redisReply* reply) {
      if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
          reply->element[0]->type == REDIS_REPLY_STRING &&
          std::string_view(reply->element[0]->str, reply->element[0]->len) != "master")
        master_lost("ROLE says the master became a replica");
    });
  });
}

void RedisLink::commands_changed(bool up) {
  // The scripts go first: every command sent after them finds them.
  if (up) load_scripts([](redisReply*) {});
  commands_up_ = up;
  static const Serves every_key = [](std::string_view) { return true; };
  for (auto& handler : commands_state_) handler(up, every_key);
}

// Sends SCRIPT LOAD for every script; `last_loaded` gets the last one's answer (they come in order).
void RedisLink::load_scripts(ReplyHandler last_loaded) {
  for (std::size_t i = 0; i < scripts_.size(); ++i) {
    const RedisScript& script = scripts_[i].second;
    bool last = i + 1 == scripts_.size();
    commands_->command({"SCRIPT", "LOAD", script.text()}, [&script, last, last_loaded](redisReply* reply) {
      if (reply && reply->type == REDIS_REPLY_ERROR)
        log(LogSeverity::warn, "Redis refused the " + std::string(script.name()) +
                                   " script: " + std::string(reply->str, reply->len));
      if (last) last_loaded(reply);
    });
  }
}

bool RedisLink::command(std::vector<std::string> args, ReplyHandler done) {
  if (router_) {
    if (args.size() < 2) {
      router_->barrier([done] { done(nullptr); });
    } else {
      std::string key = args[1];
      router_->command(std::move(args), key, std::move(done));
    }
    return true;
  }
  if (!commands_ || !commands_->up()) return false;
  if (reloading_) {
    waiting_.push_back([this, args = std::move(args), done]() mutable {
      if (!command(std::move(args), done)) done(nullptr);
    });
    return true;
  }
  std::vector<std::string_view> views(args.begin(), args.end());
  return commands_->command(views, std::move(done));
}

bool RedisLink::run(const RedisScript& script, std::shared_ptr<const ScriptCall> call, ReplyHandler done,
                    ReplyHandler waited) {
  if (call->wait && !waited) waited = [](redisReply*) {};
  if (router_) {
    router_->run(own(script), std::move(call), std::move(done), std::move(waited));
    return true;
  }
  if (!commands_ || !commands_->up()) return false;
  if (reloading_) {
    waiting_.push_back([this, &script, call = std::move(call), done, waited]() mutable {
      bool wait = call->wait.has_value();
      if (run(script, std::move(call), done, waited)) return;
      done(nullptr);
      if (wait) waited(nullptr);
    });
    return true;
  }
  return send_script(script, std::move(call), std::move(done), std::move(waited), true);
}

// EVALSHA, and with a wait, WAIT right behind it on the same connection.
bool RedisLink::send_script(const RedisScript& script, std::shared_ptr<const ScriptCall> call,
                            ReplyHandler done, ReplyHandler waited, bool may_reload) {
  std::string key_count = std::to_string(call->keys.size());
  std::vector<std::string_view> args = call->evalsha(own(script).sha(), key_count);
  auto unit = std::make_shared<ScriptUnit>();
  bool sent =
      commands_->command(args, [this, &script, call, done, waited, may_reload, unit](redisReply* reply) {
        if (!may_reload || !error_of(reply).starts_with("NOSCRIPT")) {
          done(reply);
          if (unit->wait_unsent) waited(nullptr);
          return;
        }
        // Redis did not run it: load the scripts again (once for every call that finds out) and send
        // it again (with its WAIT), behind them.
        unit->sent_again = true;
        if (!reloading_) scripts_lost();
        if (send_script(script, call, done, waited, false)) return;
        done(nullptr);
        if (call->wait) waited(nullptr);
      });
  if (!sent) return false;
  if (call->wait) ScriptUnit::send_wait(unit, *commands_, *call->wait, waited);
  return true;
}

void RedisLink::barrier(std::function<void(bool ran)> done) {
  if (router_) return router_->barrier([done] { done(true); });
  bool sent = command({"PING"}, [this, done](redisReply* reply) {
    if (!reply) return done(false);
    // A call refused with NOSCRIPT before this PING is being sent again: wait for it too.
    if (reloading_) return barrier(done);
    done(true);
  });
  if (!sent) done(false);
}

// Redis lost the scripts: they go again, and what is asked until they are back waits, so that it
// runs after the calls now being sent again.
void RedisLink::scripts_lost() {
  log(LogSeverity::warn, "Redis lost the node's scripts (restarted, or SCRIPT FLUSH): loading them again");
  reloading_ = true;
  load_scripts([this](redisReply*) {
    // Answered after every call sent before the scripts: those that found none are sent again.
    reloading_ = false;
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& send : waiting) send();
  });
}

bool RedisLink::subscribe(const std::string& room) {
  if (router_) {
    router_->subscribe(keys_.channel(room));
    return true;
  }
  return subscriber_ && subscriber_->subscribe(keys_.channel(room));
}

bool RedisLink::unsubscribe(const std::string& room) {
  if (router_) {
    router_->unsubscribe(keys_.channel(room));
    return true;
  }
  return subscriber_ && subscriber_->unsubscribe(keys_.channel(room));
}

bool RedisLink::subscribe_named(const std::string& channel) {
  if (router_) {
    router_->subscribe(channel, false);  // not one of the node's rooms: ready() does not wait for it
    return true;
  }
  return subscriber_ && subscriber_->subscribe(channel);
}

void RedisLink::room_dropped(const std::string& room) {
  for (auto& handler : room_dropped_) handler(room);
}

void RedisLink::on_push(redisReply* reply) {
  // ["message", channel, payload] or ["subscribe"|"unsubscribe", channel, count].
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 || reply->element[0]->type != REDIS_REPLY_STRING ||
      reply->element[1]->type != REDIS_REPLY_STRING)
    return;
  std::string_view kind(reply->element[0]->str, reply->element[0]->len);
  std::string_view channel(reply->element[1]->str, reply->element[1]->len);
  if (kind == "message") {
    const redisReply* body = reply->element[2];
    if (body->type == REDIS_REPLY_STRING) channel_message(channel, std::string_view(body->str, body->len));
    return;
  }
  auto room = keys_.room_of_channel(channel);
  if (room && (kind == "subscribe" || kind == "unsubscribe") && subscription_)
    subscription_(*room, kind == "subscribe" ? Subscription::subscribed : Subscription::unsubscribed);
}

// A room channel's message: its kind byte says whose it is.
void RedisLink::channel_message(std::string_view channel, std::string_view body) {
  auto room = keys_.room_of_channel(channel);
  if (!room) {
    if (auto named = named_channels_.find(channel); named != named_channels_.end()) named->second(body);
    return;
  }
  if (body.empty()) return;
  auto handler = channels_.find(body.front());
  if (handler != channels_.end()) handler->second(*room, body.substr(1));
}

}  // namespace switchboard::cluster
