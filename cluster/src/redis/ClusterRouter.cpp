#include "redis/ClusterRouter.h"

#include <hiredis/hiredis.h>

#include <boost/asio/post.hpp>

#include "redis/ClusterRedirect.h"
#include "redis/HashSlot.h"
#include "redis/RedisReply.h"
#include "switchboard/cluster/ClusterLog.h"

namespace switchboard::cluster {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {
constexpr unsigned kMaxRedirects = 5;
}  // namespace

ClusterRouter::ClusterRouter(Strand strand, ClusterTopology::Options options, std::string name)
    : strand_(strand), name_(name), timing_(options.timing), topology_(strand, std::move(options), std::move(name)) {}

ClusterRouter::~ClusterRouter() = default;

void ClusterRouter::start(MessageHandler on_message, SubscriptionHandler on_subscription,
                          std::function<void(bool up, const std::string& master)> on_master) {
  on_message_ = std::move(on_message);
  on_subscription_ = std::move(on_subscription);
  on_master_ = std::move(on_master);
  topology_.start([this](const SlotMap& map) { layout_changed(map); });
}

void ClusterRouter::stop() {
  stopped_ = true;
  topology_.stop();
  if (placing_) placing_->cancel();
  for (auto& [slot, queue] : queues_)
    if (queue.retry) queue.retry->cancel();
  // Calls in flight are answered nullptr as their links stop; those waiting are answered now.
  for (auto& [key, link] : shards_) link->stop();
  for (auto& [slot, queue] : queues_) {
    auto calls = std::move(queue.calls);
    queue.calls.clear();
    for (auto& call : calls) {
      if (call.done) call.done(nullptr);
      if (call.waited) call.waited(nullptr);
    }
  }
  on_message_ = nullptr;
  on_subscription_ = nullptr;
  on_master_ = nullptr;
  ready_ = false;
  masters_up_ = 0;
}

bool ClusterRouter::serves(const std::string& master, std::string_view key) const {
  const SlotMap::Node* node = topology_.map().master_of(HashSlot::of(key));
  return node && key_of(*node) == master;
}

ShardLink* ClusterRouter::link_for(const SlotMap::Node& node) {
  std::string key = key_of(node);
  auto found = shards_.find(key);
  if (found != shards_.end()) return found->second.get();
  auto link = std::make_unique<ShardLink>(strand_, topology_.address_of(node), timing_, scripts_);
  ShardLink* raw = link.get();
  shards_.emplace(key, std::move(link));
  raw->start(
      [this, key](bool up) {
        update_ready();
        if (up) {
          place_all();  // its subscriber may have been up before it could be used
          // Calls waiting for this master go now.
          std::vector<int> waiting;
          for (auto& [slot, queue] : queues_)
            if (!queue.in_flight && !queue.retry && !queue.calls.empty()) waiting.push_back(slot);
          for (int slot : waiting) dispatch(slot);
        } else {
          topology_.refresh("lost the connection to " + key, true);
        }
        if (on_master_) on_master_(up, key);
      },
      [this, key](bool up) {
        update_ready();
        subscriber_state(key, up);
      },
      [this, key](const ShardSubscriber::Push& push) { on_push(key, push); });
  return raw;
}

void ClusterRouter::layout_changed(const SlotMap& map) {
  if (stopped_) return;
  // A link to every master; links to nodes that are masters no more go.
  std::map<std::string, bool> masters;
  for (const auto& node : map.masters()) {
    link_for(node);
    masters[key_of(node)] = true;
  }
  for (auto it = shards_.begin(); it != shards_.end();) {
    if (masters.count(it->first)) {
      ++it;
      continue;
    }
    std::string gone = it->first;
    std::shared_ptr<ShardLink> link = std::move(it->second);
    it = shards_.erase(it);
    for (auto& [channel, ch] : channels_)
      if (ch.placed == gone) lost(channel, ch);
    link->stop();
    // Freed once the handler running now (maybe one of this link's own) has returned.
    boost::asio::post(strand_, [link] {});
  }
  // Channels whose slot moved to another master are subscribed there.
  for (auto& [channel, ch] : channels_) {
    if (ch.placed.empty()) continue;
    const SlotMap::Node* owner = map.master_of(static_cast<std::uint16_t>(HashSlot::of(channel)));
    if (!owner || key_of(*owner) != ch.placed) {
      auto old = shards_.find(ch.placed);
      if (old != shards_.end()) old->second->unsubscribe(channel);
      lost(channel, ch);
    }
  }
  sweep();
  place_all();
  update_ready();
}

void ClusterRouter::run(const RedisScript& script, std::shared_ptr<const ScriptCall> call, ReplyHandler done,
                        ReplyHandler waited) {
  if (call->wait && !waited) waited = [](redisReply*) {};
  if (!call->wait) waited = nullptr;
  if (call->keys.empty()) {
    done(nullptr);
    if (waited) waited(nullptr);
    return;
  }
  int slot = HashSlot::of(call->keys.front());
  Call c;
  c.script = &script;
  c.call = std::move(call);
  c.done = std::move(done);
  c.waited = std::move(waited);
  enqueue(slot, std::move(c));
}

void ClusterRouter::barrier(std::function<void()> done) {
  // A mark at the end of every queue; the last one reached calls `done`.
  auto left = std::make_shared<std::size_t>(1);
  auto reached = [left, done = std::move(done)](redisReply*) {
    if (--*left == 0) done();
  };
  std::vector<int> slots;
  for (auto& [slot, queue] : queues_)
    if (!queue.calls.empty()) slots.push_back(slot);
  for (int slot : slots) {
    ++*left;
    Call mark;
    mark.done = reached;
    queues_[slot].calls.push_back(std::move(mark));
  }
  reached(nullptr);
}

void ClusterRouter::command(std::vector<std::string> args, std::string_view route, ReplyHandler done) {
  if (args.empty()) return done(nullptr);
  int slot = HashSlot::of(route);
  Call call;
  call.words = std::move(args);
  call.done = std::move(done);
  enqueue(slot, std::move(call));
}

void ClusterRouter::enqueue(int slot, Call call) {
  if (stopped_) {
    call.done(nullptr);
    if (call.waited) call.waited(nullptr);
    return;
  }
  call.deadline = Clock::now() + timing_.reply_timeout;
  SlotQueue& queue = queues_[slot];
  queue.calls.push_back(std::move(call));
  if (!queue.in_flight && !queue.retry) dispatch(slot);
  tidy(slot);
}

// Forgets a slot's queue once it is idle and empty. Not while a handler called from within
// dispatch() runs: the queue may be in use further up the stack.
void ClusterRouter::tidy(int slot) {
  if (depth_ > 0) return;
  auto it = queues_.find(slot);
  if (it != queues_.end() && it->second.calls.empty() && !it->second.in_flight && !it->second.retry) queues_.erase(it);
}

// Sends the slot's first call, unless one is in flight or waiting to go again.
void ClusterRouter::dispatch(int slot) {
  ++depth_;
  struct Leave {
    int& depth;
    ~Leave() { --depth; }
  } leave{depth_};
  SlotQueue& queue = queues_[slot];
  while (!queue.in_flight && !queue.retry && !queue.calls.empty()) {
    Call& call = queue.calls.front();
    if (!call.script && call.words.empty()) {  // a barrier's mark: every call before it is answered
      finish(slot, nullptr);
      continue;
    }
    const SlotMap::Node* master = call.ask ? &*call.ask : topology_.map().master_of(static_cast<std::uint16_t>(slot));
    if (!master) {
      topology_.refresh("a slot without a master", true);
      finish(slot, nullptr);
      continue;
    }
    bool asking = call.ask.has_value();
    ShardLink* link = link_for(*master);
    if (!link->commands_up()) {
      // A master just learnt is being connected to: the call waits for it, within its time.
      if (link->fresh() && Clock::now() < call.deadline) return retry_later(slot);
      finish(slot, nullptr);
      continue;
    }
    call.ask.reset();
    auto handler = [this, slot](redisReply* reply) { answered(slot, reply); };
    bool sent = false;
    if (call.script && call.waited) {
      std::uint64_t unit = call.unit = ++units_;
      sent = link->run(*call.script, call.call, asking, handler,
                       [this, slot, unit](redisReply* reply) { wait_answered(slot, unit, reply); });
    } else if (call.script) {
      sent = link->run(*call.script, call.call, asking, handler);
    } else {
      std::vector<std::string_view> words(call.words.begin(), call.words.end());
      sent = link->command(words, asking, handler);
    }
    if (!sent) {
      finish(slot, nullptr);
      continue;
    }
    queue.in_flight = true;
  }
}

void ClusterRouter::answered(int slot, redisReply* reply) {
  SlotQueue& queue = queues_[slot];
  queue.in_flight = false;
  if (stopped_ || queue.calls.empty()) return;
  handle_answer(slot, reply);
  tidy(slot);
}

void ClusterRouter::handle_answer(int slot, redisReply* reply) {
  SlotQueue& queue = queues_[slot];
  Call& call = queue.calls.front();
  std::string_view error = error_of(reply);
  if (!reply) {
    topology_.refresh("a connection lost", true);
  } else if (error.starts_with("MOVED ") || error.starts_with("ASK ")) {
    const SlotMap::Node* asked = topology_.map().master_of(static_cast<std::uint16_t>(slot));
    auto redirect = ClusterRedirect::parse(error, asked ? asked->host : "");
    if (redirect && ++call.redirects <= kMaxRedirects) {
      if (redirect->kind == ClusterRedirect::Kind::moved) topology_.moved(*redirect);
      else call.ask = redirect->to;
      return dispatch(slot);
    }
  } else if (error.starts_with("TRYAGAIN")) {
    if (Clock::now() < call.deadline) return retry_later(slot);
  } else if (error.starts_with("CLUSTERDOWN")) {
    topology_.refresh("CLUSTERDOWN", true);
  }
  if (call.waited) {
    // The script's answer is final: the WAIT sent behind it, on the same connection, is the
    // call's last answer, and the slot's next call waits for it.
    ++depth_;
    auto done = std::move(call.done);
    call.done = nullptr;
    queue.in_flight = true;
    queue.waiting = call.unit;
    done(reply);
    --depth_;
    return;
  }
  finish(slot, reply);
  dispatch(slot);
}

// The slot's first call is done: it leaves the queue and hears its answer (and, with a wait whose
// WAIT was not sent, nullptr for it).
void ClusterRouter::finish(int slot, redisReply* reply) {
  ++depth_;
  SlotQueue& queue = queues_[slot];
  Call call = std::move(queue.calls.front());
  queue.calls.pop_front();
  call.done(reply);
  if (call.waited) call.waited(nullptr);
  --depth_;
}

// The answer of the WAIT sent behind a script: the call's last answer when the slot awaits that
// unit's WAIT; otherwise it followed a script that was sent again (or the call is over), and is
// dropped.
void ClusterRouter::wait_answered(int slot, std::uint64_t unit, redisReply* reply) {
  auto it = queues_.find(slot);
  if (stopped_ || it == queues_.end() || it->second.waiting != unit || it->second.calls.empty()) return;
  SlotQueue& queue = it->second;
  queue.waiting = 0;
  queue.in_flight = false;
  ++depth_;
  Call call = std::move(queue.calls.front());
  queue.calls.pop_front();
  call.waited(reply);
  --depth_;
  dispatch(slot);
  tidy(slot);
}

void ClusterRouter::retry_later(int slot) {
  SlotQueue& queue = queues_[slot];
  Call& call = queue.calls.front();
  auto delay = call.retry_delay;
  call.retry_delay = std::min(call.retry_delay * 2, milliseconds(200));
  queue.retry = std::make_unique<boost::asio::steady_timer>(strand_, delay);
  queue.retry->async_wait([this, slot](boost::system::error_code ec) {
    if (ec || stopped_) return;
    queues_[slot].retry.reset();
    dispatch(slot);
    tidy(slot);
  });
}

void ClusterRouter::subscribe(const std::string& channel, bool counted) {
  Channel& ch = channels_[channel];
  if (ch.wanted) return;
  ch.wanted = true;
  ch.counted = counted;
  if (!ch.confirmed && ch.counted) ++unconfirmed_;
  update_ready();
  place(channel, ch);
}

void ClusterRouter::unsubscribe(const std::string& channel) {
  auto it = channels_.find(channel);
  if (it == channels_.end() || !it->second.wanted) return;
  Channel& ch = it->second;
  ch.wanted = false;
  if (!ch.confirmed && ch.counted) --unconfirmed_;
  update_ready();
  auto link = shards_.find(ch.placed);
  // Placed and confirmed, or on its way: SUNSUBSCRIBE (an SSUBSCRIBE on its way is answered
  // first, and its confirmation, for a channel no longer wanted, is not reported).
  if (!ch.placed.empty() && link != shards_.end() && link->second->unsubscribe(channel)) return;
  channels_.erase(it);
  update_ready();
  // Reported once the caller is done (it may be in the middle of its own bookkeeping).
  boost::asio::post(strand_, [this, channel] {
    if (on_subscription_ && !channels_.count(channel)) on_subscription_(channel, Subscription::unsubscribed);
  });
}

void ClusterRouter::place(const std::string& channel, Channel& ch) {
  if (!ch.wanted || !ch.placed.empty()) return;
  const SlotMap::Node* owner = topology_.map().master_of(static_cast<std::uint16_t>(HashSlot::of(channel)));
  if (!owner) return;  // placed when the layout names a master for it
  ShardLink* link = link_for(*owner);
  if (link->subscriber_up() && link->subscribe(channel)) ch.placed = key_of(*owner);
}

void ClusterRouter::place_all() {
  for (auto& [channel, ch] : channels_) place(channel, ch);
}

void ClusterRouter::retry_placing() {
  if (placing_) return;
  placing_ = std::make_unique<boost::asio::steady_timer>(strand_, milliseconds(500));
  placing_->async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    placing_.reset();
    sweep();
    place_all();
  });
}

// The channel is not subscribed anywhere now.
void ClusterRouter::lost(const std::string& channel, Channel& ch) {
  bool was = ch.confirmed;
  ch.placed.clear();
  ch.confirmed = false;
  if (!was || !ch.wanted) return;
  if (ch.counted) ++unconfirmed_;
  update_ready();
  if (on_subscription_) on_subscription_(channel, Subscription::lost);
}

void ClusterRouter::subscriber_state(const std::string& shard, bool up) {
  if (stopped_) return;
  if (up) return place_all();
  for (auto& [channel, ch] : channels_)
    if (ch.placed == shard) lost(channel, ch);
  sweep();
  topology_.refresh("lost the subscriber connection to " + shard, true);
}

// Channels unsubscribed whose SUNSUBSCRIBE can no longer be answered (their master is gone):
// done.
void ClusterRouter::sweep() {
  std::vector<std::string> done;
  for (auto& [channel, ch] : channels_)
    if (!ch.wanted && ch.placed.empty()) done.push_back(channel);
  for (auto& channel : done) {
    channels_.erase(channel);
    if (on_subscription_) on_subscription_(channel, Subscription::unsubscribed);
  }
}

void ClusterRouter::on_push(const std::string& shard, const ShardSubscriber::Push& push) {
  if (stopped_) return;
  std::string channel(push.channel);
  auto it = channels_.find(channel);
  if (it == channels_.end() || it->second.placed != shard) return;  // not (or no longer) subscribed there
  Channel& ch = it->second;
  switch (push.kind) {
    case ShardSubscriber::PushKind::message:
      if (ch.confirmed && on_message_) on_message_(push.channel, push.body);
      return;
    case ShardSubscriber::PushKind::subscribed:
      if (!ch.wanted) {  // unsubscribed meanwhile: its SUNSUBSCRIBE is on its way
        ch.confirmed = true;
        return;
      }
      if (!ch.confirmed) {
        ch.confirmed = true;
        if (ch.counted) --unconfirmed_;
        update_ready();
        if (on_subscription_) on_subscription_(channel, Subscription::subscribed);
      }
      return;
    case ShardSubscriber::PushKind::unsubscribed:
      if (!ch.wanted) {
        channels_.erase(it);
        if (on_subscription_) on_subscription_(channel, Subscription::unsubscribed);
        return;
      }
      // The server ended it: its slot moved, or this master was demoted.
      lost(channel, ch);
      topology_.refresh("a subscription ended by " + shard, true);
      return place(channel, ch);
    case ShardSubscriber::PushKind::refused: {
      ch.placed.clear();
      // A copy: `shard` belongs to the link's handler, which the move below may stop and free.
      std::string from = shard;  // NOLINT(performance-unnecessary-copy-initialization)
      auto redirect = ClusterRedirect::parse(push.body, from.substr(0, from.rfind(':')));
      if (redirect && redirect->kind == ClusterRedirect::Kind::moved) {
        topology_.moved(*redirect);  // may change the layout, and forget channels no longer wanted
        auto again = channels_.find(channel);
        if (again != channels_.end()) place(channel, again->second);  // where the map says now
      } else {
        log(LogSeverity::warn, "redis " + name_ + ": " + from + " refused to subscribe to " + channel + ": " +
                                   std::string(push.body));
        topology_.refresh("a subscription refused", true);
      }
      // Whatever the map says then, channels not placed are tried again (and those no longer
      // wanted forgotten) shortly.
      return retry_placing();
    }
  }
}

bool ClusterRouter::available(std::string_view key) const {
  const SlotMap::Node* master = topology_.map().master_of(static_cast<std::uint16_t>(HashSlot::of(key)));
  if (!master) return false;
  auto link = shards_.find(key_of(*master));
  return link != shards_.end() && link->second->commands_up();
}

// Ready: every slot has a master, one at least is reachable, and every wanted channel is
// subscribed — a master that is down holds the node back only while it holds a channel of its.
void ClusterRouter::update_ready() {
  std::size_t up = 0;
  for (const auto& [key, link] : shards_)
    if (link->commands_up()) ++up;
  masters_up_ = up;
  ready_ = !stopped_ && up > 0 && topology_.known() && topology_.map().covered() == SlotMap::kSlots &&
           unconfirmed_ == 0;
}

}  // namespace switchboard::cluster
