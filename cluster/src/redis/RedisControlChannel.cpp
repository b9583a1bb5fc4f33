#include "redis/RedisControlChannel.h"

#include <hiredis/hiredis.h>

#include <boost/asio/post.hpp>
#include <future>

#include "switchboard/cluster/ClusterLog.h"
#include "switchboard/cluster/RandomId.h"

namespace switchboard::cluster {

namespace net = boost::asio;
using nlohmann::json;

namespace {

std::int64_t epoch_ms(std::chrono::system_clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
}

}  // namespace

RedisControlChannel::RedisControlChannel(std::shared_ptr<RedisLink> link)
    : link_(std::move(link)), node_id_(random_id()) {
  // The link may outlive the channel (a node made without it): its handlers then do nothing.
  std::weak_ptr<bool> alive = alive_;
  link_->on_named_channel(keys().control(), [this, alive](std::string_view message) {
    if (!alive.expired()) on_query(message);
  });
  link_->on_named_channel(keys().control_replies(node_id_), [this, alive](std::string_view message) {
    if (!alive.expired()) on_reply(message);
  });
  // Redis forgets a connection's subscriptions with it: subscribed again on the next one. The
  // orders published meanwhile were not heard: the standing ones are read again.
  link_->on_subscriber_state([this, alive](bool up) {
    if (alive.expired() || !up || !started_ || stopped_) return;
    subscribe();
    if (link_->commands_up()) replay_standing();
  });
  link_->on_commands_state([this, alive](bool up, const RedisLink::Serves& serves) {
    if (!alive.expired() && up && started_ && !stopped_ && serves(keys().control_standing())) replay_standing();
  });
}

RedisControlChannel::~RedisControlChannel() = default;

void RedisControlChannel::start() {
  net::post(link_->strand(), [this] {
    started_ = true;
    if (link_->subscriber_up()) subscribe();
    if (link_->commands_up()) replay_standing();
  });
}

void RedisControlChannel::stop() {
  if (!link_->started()) return;
  std::promise<void> done;
  net::post(link_->strand(), [this, &done] {
    stopped_ = true;
    while (!asking_.empty()) finish(asking_.begin()->first);
    done.set_value();
  });
  done.get_future().wait();
}

void RedisControlChannel::subscribe() {
  link_->subscribe_named(keys().control());
  link_->subscribe_named(keys().control_replies(node_id_));
}

void RedisControlChannel::ask(json query, Gathered done, std::optional<std::chrono::system_clock::time_point> keep_until) {
  net::post(link_->strand(), [this, query = std::move(query), done = std::move(done), keep_until]() mutable {
    if (stopped_ || !started_ || !link_->commands_up()) return done({}, 0);
    auto id = ++next_id_;
    json query_copy = keep_until ? query : json();
    // A user id from a URL may be any bytes: those that are not UTF-8 are replaced, not thrown on.
    std::string message = json{{"from", node_id_}, {"id", id}, {"query", std::move(query)}}.dump(
        -1, ' ', false, json::error_handler_t::replace);
    if (keep_until) {
      // The order alone (not who asked, nor its id) is the member: the same order given again
      // is one member, its time the later one (GT).
      std::string order = json{{"query", query_copy}}.dump(-1, ' ', false, json::error_handler_t::replace);
      auto now = std::to_string(epoch_ms(std::chrono::system_clock::now()));
      link_->command({"ZREMRANGEBYSCORE", keys().control_standing(), "-inf", "(" + now}, [](redisReply*) {});
      link_->command({"ZADD", keys().control_standing(), "GT", std::to_string(epoch_ms(*keep_until)), std::move(order)},
                     [](redisReply* reply) {
                       if (!reply || reply->type == REDIS_REPLY_ERROR)
                         log(LogSeverity::warn,
                             "control channel: a standing order could not be kept in Redis; nodes that start "
                             "before it ends will not apply it");
                     });
    }
    Asking& asking = asking_[id];
    asking.done = std::move(done);
    asking.timer = std::make_unique<net::steady_timer>(link_->strand());
    asking.timer->expires_after(link_->timing().reply_timeout);
    asking.timer->async_wait([this, id](boost::system::error_code ec) {
      if (!ec) finish(id);
    });
    link_->command({"SCARD", keys().nodes()}, [this, id](redisReply* reply) {
      auto it = asking_.find(id);
      if (it == asking_.end()) return;
      // Unknown when Redis could not count the nodes: the reply timeout ends the query then.
      if (!reply || reply->type != REDIS_REPLY_INTEGER) return;
      it->second.known = static_cast<std::size_t>(reply->integer);
      check(id);
    });
    if (!link_->command({link_->publish_command(), keys().control(), std::move(message)}, [this, id](redisReply* reply) {
          if (!reply || reply->type == REDIS_REPLY_ERROR) finish(id);  // no node hears it
        }))
      finish(id);
  });
}

void RedisControlChannel::on_query(std::string_view message) {
  auto parsed = json::parse(message, nullptr, false);
  if (!parsed.is_object() || !parsed["from"].is_string() || !parsed["id"].is_number_unsigned() || !handler_) return;
  const auto& from = parsed["from"].get_ref<const std::string&>();
  if (from.empty() || from.size() > 64) return;
  json answer = handler_(parsed["query"]);
  link_->command({link_->publish_command(), keys().control_replies(from),
                  json{{"id", parsed["id"]}, {"answer", std::move(answer)}}.dump(-1, ' ', false,
                                                                              json::error_handler_t::replace)},
                 [](redisReply*) {});
}

void RedisControlChannel::tell(const std::string& to, const nlohmann::json& message, std::string_view payload) {
  if (to.empty() || to.size() > 64) return;
  std::string text = "T" + json{{"from", node_id_}, {"tell", message}}.dump(-1, ' ', false, json::error_handler_t::replace);
  text += '\n';
  text.append(payload);
  net::post(link_->strand(), [this, alive = std::weak_ptr<bool>(alive_), to, text = std::move(text)]() mutable {
    if (alive.expired() || stopped_ || !started_) return;
    link_->command({link_->publish_command(), keys().control_replies(to), std::move(text)}, [](redisReply*) {});
  });
}

std::chrono::milliseconds RedisControlChannel::reply_timeout() const { return link_->timing().reply_timeout; }

void RedisControlChannel::on_told(std::string_view message) {
  auto newline = message.find('\n');
  if (newline == std::string_view::npos || !listener_) return;
  auto parsed = json::parse(message.substr(1, newline - 1), nullptr, false);
  if (!parsed.is_object() || !parsed["from"].is_string() || !parsed["tell"].is_object()) return;
  const auto& from = parsed["from"].get_ref<const std::string&>();
  if (from.empty() || from.size() > 64) return;
  listener_(from, parsed["tell"], message.substr(newline + 1));
}

void RedisControlChannel::on_reply(std::string_view message) {
  if (!message.empty() && message.front() == 'T') return on_told(message);
  auto parsed = json::parse(message, nullptr, false);
  if (!parsed.is_object() || !parsed["id"].is_number_unsigned()) return;
  auto id = parsed["id"].get<std::uint64_t>();
  auto it = asking_.find(id);
  if (it == asking_.end()) return;  // answered too late
  it->second.answers.push_back(std::move(parsed["answer"]));
  check(id);
}

void RedisControlChannel::check(std::uint64_t id) {
  auto it = asking_.find(id);
  // At least one answer: a node that has not registered yet is not in the count (nor is 0 an answer).
  if (it != asking_.end() && it->second.known && !it->second.answers.empty() &&
      it->second.answers.size() >= *it->second.known)
    finish(id);
}

void RedisControlChannel::finish(std::uint64_t id) {
  auto it = asking_.find(id);
  if (it == asking_.end()) return;
  Asking asking = std::move(it->second);
  asking_.erase(it);
  asking.timer->cancel();
  auto known = std::max(asking.known.value_or(0), asking.answers.size());
  asking.done(std::move(asking.answers), known);
}

void RedisControlChannel::replay_standing() {
  auto now = std::to_string(epoch_ms(std::chrono::system_clock::now()));
  link_->command({"ZRANGEBYSCORE", keys().control_standing(), now, "+inf"}, [this](redisReply* reply) {
    if (!reply || reply->type != REDIS_REPLY_ARRAY || stopped_ || !handler_) return;
    std::size_t n = 0;
    for (std::size_t i = 0; i < reply->elements; ++i) {
      const redisReply* member = reply->element[i];
      if (member->type != REDIS_REPLY_STRING) continue;
      auto parsed = json::parse(std::string_view(member->str, member->len), nullptr, false);
      if (!parsed.is_object() || !parsed.contains("query")) continue;
      handler_(parsed["query"]);
      ++n;
    }
    if (n > 0) log(LogSeverity::info, "control channel: " + std::to_string(n) + " standing order(s) in force applied");
  });
}

}  // namespace switchboard::cluster
