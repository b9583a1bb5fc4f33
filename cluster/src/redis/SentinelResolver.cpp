#include "redis/SentinelResolver.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>

#include "switchboard/cluster/ClusterLog.h"

namespace switchboard::cluster {

namespace {
std::string_view text_of(const redisReply* r) { return {r->str, r->len}; }
}  // namespace

SentinelResolver::SentinelResolver(Strand strand, Options options)
    : strand_(std::move(strand)), options_(std::move(options)), order_(options_.sentinels), check_(strand_) {}

SentinelResolver::~SentinelResolver() = default;

void SentinelResolver::start(ChangedHandler changed) {
  changed_ = std::move(changed);
  queries_ = std::make_unique<RedisConnection>(strand_, order_.front(), "sentinel", options_.timing);
  watcher_ = std::make_unique<RedisConnection>(strand_, order_.front(), "sentinel watcher", options_.timing);
  // Each connect tries the next sentinel in order: after a lost connection, the one in use first.
  queries_->set_address_source([this](Found found) {
    in_use_ = query_cursor_++ % order_.size();
    found(order_[in_use_]);
  });
  watcher_->set_address_source([this](Found found) {
    found(order_[watch_cursor_++ % order_.size()]);
  });
  queries_->start([this](bool up) {
    if (up) send_waiting();
  });
  watcher_->start(
      [this](bool up) {
        if (!up) return;
        // Only a sentinel that knows the master is watched (any Redis would take the SUBSCRIBE).
        watcher_->command({"SENTINEL", "get-master-addr-by-name", options_.master_name}, [this](redisReply* reply) {
          if (!reply || stopped_) return;
          if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2) watcher_->subscribe("+switch-master");
          else watcher_->reset("not a sentinel of master \"" + options_.master_name + "\"");
        });
      },
      [this](redisReply* reply) { on_switch(reply); });
  schedule_check();
}

void SentinelResolver::stop() {
  stopped_ = true;
  check_.cancel();
  waiting_.clear();
  if (watcher_) watcher_->stop();
  if (queries_) queries_->stop();
}

void SentinelResolver::resolve(Found found) {
  ask([this, found = std::move(found)](std::optional<RedisAddress> address) {
    if (address) last_ = address;
    found(std::move(address));
  });
}

void SentinelResolver::ask(Found found) {
  if (stopped_) return;
  waiting_.push_back(std::move(found));
  if (queries_ && queries_->up() && waiting_.size() == 1) send_waiting();
}

// Asks the sentinel in use for the master, once for everyone waiting.
void SentinelResolver::send_waiting() {
  if (waiting_.empty() || !queries_->up()) return;
  bool sent = queries_->command(
      {"SENTINEL", "get-master-addr-by-name", options_.master_name}, [this](redisReply* reply) {
        if (stopped_) return;
        if (!reply) return send_waiting();  // the connection went: asked again on the next sentinel
        if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 && reply->element[0]->type == REDIS_REPLY_STRING &&
            reply->element[1]->type == REDIS_REPLY_STRING) {
          RedisAddress address = options_.master;
          address.host = std::string(text_of(reply->element[0]));
          auto port = text_of(reply->element[1]);
          auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), address.port);
          if (ec == std::errc() && end == port.data() + port.size() && address.port != 0) {
            nulls_in_a_row_ = 0;
            // The sentinel that answered goes to the front: a reconnect tries it first.
            auto used = order_.begin() + static_cast<std::ptrdiff_t>(in_use_);
            std::rotate(order_.begin(), used, used + 1);
            in_use_ = query_cursor_ = 0;
            auto waiting = std::move(waiting_);
            waiting_.clear();
            for (auto& found : waiting) found(address);
            return;
          }
        }
        // Null (this sentinel does not know the master), or an error: the next sentinel, this
        // one to the back.
        if (++nulls_in_a_row_ % order_.size() == 0)
          log(LogSeverity::warn, "no sentinel knows a master named \"" + options_.master_name +
                                     "\" (check --redis-sentinel-master): asking again");
        auto used = order_.begin() + static_cast<std::ptrdiff_t>(in_use_);
        std::rotate(used, used + 1, order_.end());
        query_cursor_ = in_use_;
        queries_->reset("the sentinel did not name master \"" + options_.master_name + "\"");
      });
  (void)sent;  // when not sent: asked when the connection comes up
}

// ["message", "+switch-master", "<name> <old ip> <old port> <new ip> <new port>"].
void SentinelResolver::on_switch(redisReply* reply) {
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 || reply->element[0]->type != REDIS_REPLY_STRING ||
      reply->element[2]->type != REDIS_REPLY_STRING || text_of(reply->element[0]) != "message")
    return;
  std::string_view body = text_of(reply->element[2]);
  if (body.substr(0, body.find(' ')) != options_.master_name) return;
  log(LogSeverity::info, "Sentinel: +switch-master " + std::string(body));
  if (changed_) changed_("+switch-master");
}

// Every check_period: the sentinels still name the address handed out last.
void SentinelResolver::schedule_check() {
  check_.expires_after(options_.check_period);
  check_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    schedule_check();
    if (!last_ || !queries_->up() || !waiting_.empty()) return;
    ask([this](std::optional<RedisAddress> address) {
      if (!address || !last_ || (address->host == last_->host && address->port == last_->port)) return;
      log(LogSeverity::warn, "Sentinel names another master: " + address->describe());
      if (changed_) changed_("the sentinels name another master");
    });
  });
}

}  // namespace switchboard::cluster
