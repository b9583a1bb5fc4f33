#include "redis/RedisBroker.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <charconv>
#include <cstring>
#include <mutex>

#include "redis/RedisReply.h"
#include "switchboard/cluster/ClusterLog.h"
#include "switchboard/cluster/RandomId.h"
#include "switchboard/protocol/OffsetSlot.h"

namespace switchboard::cluster {

namespace net = boost::asio;

namespace {

// What the publish and history scripts first do with the room's numbering. KEYS[1]: the room's
// history hash (epoch, latest offset), KEYS[2]: its stream.
constexpr std::string_view kNumberingText = R"lua(
-- The room's epoch. A room without one has lost its history (or never had one): its stream goes
-- too, so that offsets start again at 1 under the new epoch.
local function room_epoch(new_epoch)
  local epoch = redis.call('HGET', KEYS[1], 'epoch')
  if not epoch then
    epoch = new_epoch
    redis.call('DEL', KEYS[2])
    redis.call('HSET', KEYS[1], 'epoch', epoch, 'offset', 0)
  end
  return epoch
end
-- An offset a node handed on under the room's epoch is never given to another message. A replica
-- promoted by a failover may lack the latest messages its master numbered (Redis replicates
-- asynchronously): the numbering then goes on after the node's mark (`mark_epoch`, `mark`: the
-- last offset it handed on), and the stream notes the offsets in between as lost (one entry at
-- the mark: `lost` the first lost offset, `last` the mark; two fields, so that a node of an
-- earlier version, which reads an entry of one field as a message, passes over it).
local function skip_lost(epoch, mark_epoch, mark, size)
  if mark_epoch ~= epoch then return end
  local top = tonumber(redis.call('HGET', KEYS[1], 'offset') or 0)
  mark = tonumber(mark)
  if mark <= top then return end
  redis.call('HSET', KEYS[1], 'offset', mark)
  if tonumber(size) > 0 and redis.call('EXISTS', KEYS[2]) == 1 then
    redis.pcall('XADD', KEYS[2], 'MAXLEN', '~', size, mark .. '-0', 'lost', top + 1, 'last', mark)
  end
end
)lua";

// Publishes a batch of a room's messages, in order. ARGV: channel, history size, history ttl
// (ms), a new epoch in case the room has none, the hash's ttl (ms), the offset slot's `before`
// and `kept` (protocol::message_offset_slot), the node's mark (the epoch and the offset of the
// room's last message it handed on; '' and 0 when none), the idempotency window (ms), then for
// each message the index in KEYS of its idempotency key (0: none), then each push (without
// offset). Returns the messages' offsets; a message whose key Redis holds (a publish within the
// window, or one before it in the batch) is not published again: its offset is the first
// publish's, negated.
const std::string kPublishText = std::string(kNumberingText) + R"lua(
local epoch = room_epoch(ARGV[4])
skip_lost(epoch, ARGV[8], ARGV[9], ARGV[2])
local count = (#ARGV - 10) / 2
local offsets, first, fresh = {}, {}, 0
for i = 1, count do
  local k = tonumber(ARGV[10 + i])
  if k > 0 then
    local known = redis.call('GET', KEYS[k])
    if known then offsets[i] = -tonumber(known)
    elseif first[KEYS[k]] then offsets[i] = first[KEYS[k]]
    else first[KEYS[k]] = i; fresh = fresh + 1 end
  else
    fresh = fresh + 1
  end
end
local offset = redis.call('HINCRBY', KEYS[1], 'offset', fresh) - fresh
local keep = tonumber(ARGV[2]) > 0
local kept = tonumber(ARGV[7])
for i = 1, count do
  local known = offsets[i]
  if known and known > 0 then
    offsets[i] = -offsets[known]
  elseif not known then
    offset = offset + 1
    local push = ARGV[10 + count + i]
    push = string.sub(push, 1, #push - kept) .. ARGV[6] .. offset .. string.sub(push, #push - kept + 1)
    if keep then redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], offset .. '-0', 'p', push) end
    redis.call(PUBLISH, ARGV[1], 'm' .. offset .. ':' .. epoch .. ':' .. push)
    offsets[i] = offset
    local k = tonumber(ARGV[10 + i])
    if k > 0 then redis.call('SET', KEYS[k], offset, 'PX', ARGV[10]) end
  end
end
if keep then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return offsets
)lua";

// ARGV: a new epoch in case the room has none, the hash's ttl (ms), the offset to read after
// ('' for the latest messages), how many at most, the history size, the node's mark (as for a
// publish). Returns {epoch, latest offset, entries oldest first}: messages (field `p`) and the
// lost offsets' notes (field `lost`).
const std::string kHistoryText = std::string(kNumberingText) + R"lua(
local epoch = room_epoch(ARGV[1])
skip_lost(epoch, ARGV[6], ARGV[7], ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local offset = tonumber(redis.call('HGET', KEYS[1], 'offset'))
local limit = tonumber(ARGV[4])
-- Up to `limit` messages, with the notes of lost offsets among them (which count for none).
local function read(command, from, to)
  local count = limit
  while true do
    local got = redis.call(command, KEYS[2], from, to, 'COUNT', count)
    local notes = 0
    for i = 1, #got do
      if got[i][2][1] ~= 'p' then notes = notes + 1 end
    end
    if #got < count or #got - notes >= limit then return got end
    count = limit + notes
  end
end
local entries = {}
if limit > 0 then
  if ARGV[3] == '' then
    local newest = read('XREVRANGE', '+', '-')
    for i = #newest, 1, -1 do entries[#entries + 1] = newest[i] end
  else
    entries = read('XRANGE', (tonumber(ARGV[3]) + 1) .. '-0', '+')
  end
end
return {epoch, offset, entries}
)lua";

const RedisScript kPublishScript("publish", kPublishText);
const RedisScript kHistoryScript("history", kHistoryText);

std::optional<std::uint64_t> parse_offset(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The history script's answer: {epoch, latest offset, entries oldest first}, each entry
// [id, [field, value, …]]: a message (`p`, the push) or a note of lost offsets (`lost`, the first
// of them, and `last`; the entry's id is the last). Not available when Redis did not run it.
Broker::History history_of(const redisReply* reply, std::optional<std::uint64_t> after) {
  Broker::History history;
  if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
      reply->element[0]->type != REDIS_REPLY_STRING || reply->element[1]->type != REDIS_REPLY_INTEGER ||
      reply->element[2]->type != REDIS_REPLY_ARRAY)
    return history;
  history.available = true;
  history.position.epoch.assign(reply->element[0]->str, reply->element[0]->len);
  history.position.offset = static_cast<std::uint64_t>(reply->element[1]->integer);
  // With `after`: every offset from after + 1 on is a message or noted lost, up to the latest.
  std::uint64_t next = after ? *after + 1 : 0;
  bool gapless = true;
  const redisReply* entries = reply->element[2];
  for (std::size_t i = 0; i < entries->elements; ++i) {
    const redisReply* e = entries->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING ||
        e->element[1]->type != REDIS_REPLY_ARRAY || e->element[1]->elements < 2 ||
        e->element[1]->element[0]->type != REDIS_REPLY_STRING || e->element[1]->element[1]->type != REDIS_REPLY_STRING)
      continue;
    std::string_view id(e->element[0]->str, e->element[0]->len);
    std::string_view field(e->element[1]->element[0]->str, e->element[1]->element[0]->len);
    std::string_view value(e->element[1]->element[1]->str, e->element[1]->element[1]->len);
    auto offset = parse_offset(id.substr(0, id.find('-')));
    if (!offset) continue;
    std::uint64_t first = *offset;
    if (field == "p") {
      history.messages.push_back({*offset, protocol::make_payload(std::string(value))});
    } else if (field == "lost") {
      auto from = parse_offset(value);
      if (!from || *from > *offset) continue;
      first = *from;
    } else {
      continue;
    }
    if (first > next) gapless = false;
    next = *offset + 1;
  }
  if (after) {
    auto top = history.position.offset;
    history.complete = *after == top || (*after < top && gapless && next == top + 1);
  }
  return history;
}

// How long a room's numbering outlives its latest message or read.
std::chrono::milliseconds numbering_ttl(std::chrono::seconds ttl) {
  return std::max<std::chrono::milliseconds>(2 * ttl, std::chrono::hours(1));
}

}  // namespace

RedisBroker::RedisBroker(std::shared_ptr<RedisLink> link, HistoryPolicy history, Acks acks,
                         std::chrono::milliseconds idempotency_window)
    : link_(std::move(link)),
      history_(std::move(history)),
      acks_(acks),
      idempotency_window_(idempotency_window),
      wait_errors_logged_(link_->timing()),
      epoch_seed_(random_id()) {
  link_->use(kPublishScript);
  link_->use(kHistoryScript);
  link_->on_commands_state([this](bool up, const RedisLink::Serves&) { on_commands_state(up); });
  link_->on_subscriber_state([this](bool up) { on_subscriber_state(up); });
  link_->on_subscription([this](const std::string& room, RedisLink::Subscription state) { on_subscription(room, state); });
  link_->on_channel('m', [this](const std::string& room, std::string_view body) { on_message(room, body); });
}

RedisBroker::RedisBroker(std::shared_ptr<RedisLink> link, HistoryPolicy history)
    : RedisBroker(std::move(link), std::move(history), Acks{}) {}

// Unique to this node and call: used only when a room has no epoch in Redis yet.
std::string RedisBroker::new_epoch() { return epoch_seed_ + "." + std::to_string(++epochs_made_); }

RedisBroker::~RedisBroker() = default;

void RedisBroker::set_deliver_handler(DeliverHandler handler) { deliver_ = std::move(handler); }

void RedisBroker::start(net::io_context& ioc) { link_->start(ioc); }

void RedisBroker::stop() {
  if (link_->started())
    net::post(link_->strand(), [this] {
      stopped_ = true;
      if (waiter_timer_) waiter_timer_->cancel();
    });
  link_->stop();  // behind the post above: the strand runs it first
}

bool RedisBroker::ready() const {
  return link_->commands_up() && link_->subscriber_up() && resubscribed_ && link_->ready();
}

RedisBroker::Stats RedisBroker::stats() const {
  Stats s;
  s.clustered = true;
  s.connected = ready();
  s.reconnects = reconnects_.load();
  s.replica_waits_short = replica_waits_short_.load();
  s.stale_messages = stale_messages_.load();
  s.duplicate_publishes = duplicate_publishes_.load();
  return s;
}

// On the strand, each time the command connection comes up (the link loaded the scripts first)
// or goes down.
void RedisBroker::on_commands_state(bool up) {
  if (!up) return;
  if (commands_connected_before_) ++reconnects_;
  commands_connected_before_ = true;
  // Read-backs that waited for the command connection.
  for (auto& [room, ch] : channels_)
    if (ch.catching_up && !ch.catch_up_sent) {
      ch.catch_up_tries = 0;
      send_catch_up(room, ch, ch.delivered.epoch.empty() ? std::nullopt : std::optional(ch.delivered.offset));
    }
}

// Counts down the rooms to subscribe again after the subscriber connection came up.
void RedisBroker::confirmed_one() {
  if (unconfirmed_ > 0 && --unconfirmed_ == 0) resubscribed_ = true;
}

void RedisBroker::publish(const std::string& room, protocol::Payload push, PublishHandler done,
                          const std::string& idem) {
  if (!link_->commands_up()) return done(std::nullopt);
  bool first;
  {
    std::lock_guard lock(outbox_mutex_);
    first = outbox_.empty();
    outbox_.push_back({room, std::move(push), std::move(done), idem});
  }
  if (first) net::post(link_->strand(), [this] { send_outbox(); });
}

// On the strand: what was published since the last call goes to Redis as one script call per
// room (at most kMaxBatch messages or kMaxBatchBytes each), each room's messages in publish order.
void RedisBroker::send_outbox() {
  std::vector<Outgoing> batch;
  {
    std::lock_guard lock(outbox_mutex_);
    batch.swap(outbox_);
  }
  // Grouped by room (rooms in name order: there is no order between rooms to keep); the sort is
  // stable, so one room's messages keep their publish order.
  std::vector<std::size_t> order(batch.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return batch[a].room < batch[b].room;
  });
  for (std::size_t begin = 0; begin < order.size();) {
    const std::string& room = batch[order[begin]].room;
    std::size_t end = begin, bytes = 0;
    while (end < order.size() && end - begin < kMaxBatch && batch[order[end]].room == room &&
           (end == begin || bytes + batch[order[end]].push->size() <= kMaxBatchBytes))
      bytes += batch[order[end++]].push->size();
    std::vector<Outgoing> run;
    run.reserve(end - begin);
    for (std::size_t i = begin; i < end; ++i) run.push_back(std::move(batch[order[i]]));
    queue_publishes(std::move(run));
    begin = end;
  }
}

// A Redis Cluster's router sends one call per hash slot at a time: a room's publishes that come
// while its batch is on its way wait here, and go together as its next batch (one script call
// for many, rather than one call each queued behind it). One Redis pipelines every batch.
void RedisBroker::queue_publishes(std::vector<Outgoing> run) {
  if (!link_->sharded()) return send_publishes(std::move(run));
  auto [it, idle] = publishing_.try_emplace(run.front().room);
  if (idle) return send_publishes(std::move(run));
  for (auto& m : run) it->second.push_back(std::move(m));
}

// The room's batch is answered (or refused): its next one goes, if any waits.
void RedisBroker::next_publishes(const std::string& room) {
  auto it = publishing_.find(room);
  if (it == publishing_.end()) return;
  auto& waiting = it->second;
  if (waiting.empty()) {
    publishing_.erase(it);
    return;
  }
  std::vector<Outgoing> run;
  std::size_t bytes = 0;
  while (!waiting.empty() && run.size() < kMaxBatch &&
         (run.empty() || bytes + waiting.front().push->size() <= kMaxBatchBytes)) {
    bytes += waiting.front().push->size();
    run.push_back(std::move(waiting.front()));
    waiting.pop_front();
  }
  send_publishes(std::move(run));
}

void RedisBroker::send_publishes(std::vector<Outgoing> run) {
  const std::string& room = run.front().room;
  const HistoryLimits& limits = history_.limits_for(room);
  constexpr protocol::OffsetSlot slot = protocol::message_offset_slot();
  auto call = std::make_shared<RedisLink::ScriptCall>();
  call->keys = {link_->keys().history(room), link_->keys().stream(room)};
  call->args = {link_->keys().channel(room),
                std::to_string(limits.size),
                std::to_string(std::chrono::milliseconds(limits.ttl).count()),
                new_epoch(),
                std::to_string(numbering_ttl(limits.ttl).count()),
                std::string(slot.before),
                std::to_string(slot.kept)};
  add_mark(room, call->args);
  call->args.push_back(std::to_string(idempotency_window_.count()));
  for (const auto& m : run) {
    if (m.idem.empty() || idempotency_window_.count() <= 0) {
      call->args.emplace_back("0");
      continue;
    }
    call->keys.push_back(link_->keys().idempotency(room, m.idem));
    call->args.push_back(std::to_string(call->keys.size()));
  }
  call->payloads.reserve(run.size());
  for (const auto& m : run) call->payloads.push_back(m.push);
  auto handlers = std::make_shared<std::vector<Outgoing>>(std::move(run));
  if (acks_.replicas > 0) call->wait = ScriptCall::Wait{acks_.replicas, acks_.timeout};
  // With a wait: the offsets, kept until the WAIT behind the script answers.
  auto offsets = std::make_shared<std::optional<std::vector<std::uint64_t>>>();
  auto ran = [this, handlers, offsets, room = room](redisReply* reply) {
    struct Next {  // on every way out: the room's next batch
      RedisBroker& broker;
      const std::string& room;
      ~Next() {
        if (broker.link_->sharded()) broker.next_publishes(room);
      }
    } next{*this, room};
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == handlers->size()) {
      if (acks_.replicas > 0) {
        offsets->emplace();
        for (std::size_t i = 0; i < reply->elements; ++i) (*offsets)->push_back(offset_of(reply->element[i]).value_or(0));
        return;
      }
      for (std::size_t i = 0; i < reply->elements; ++i) (*handlers)[i].done(offset_of(reply->element[i]));
      return;
    }
    for (auto& m : *handlers) m.done(std::nullopt);
  };
  bool sent = link_->run(kPublishScript, std::move(call), std::move(ran),
                         acks_.replicas > 0 ? wait_for_replicas(handlers, offsets) : nullptr);
  if (sent) return;
  for (auto& m : *handlers) m.done(std::nullopt);
  if (link_->sharded()) next_publishes(room);
}

std::optional<std::uint64_t> RedisBroker::offset_of(const redisReply* reply) {
  if (reply->type != REDIS_REPLY_INTEGER || reply->integer == 0) return std::nullopt;
  if (reply->integer > 0) return static_cast<std::uint64_t>(reply->integer);
  ++duplicate_publishes_;
  return static_cast<std::uint64_t>(-reply->integer);
}

// The answer of the WAIT that followed the batch's script on the same connection (with a Redis
// Cluster: at the master that ran it). WAIT covers every write that connection made before it:
// the batch's script, and the batches before it. The messages are acked when enough replicas
// have them, else refused (unavailable); a batch whose script failed was refused already.
RedisLink::ReplyHandler RedisBroker::wait_for_replicas(
    std::shared_ptr<std::vector<Outgoing>> handlers,
    std::shared_ptr<std::optional<std::vector<std::uint64_t>>> offsets) {
  return [this, handlers, offsets](redisReply* reply) {
    if (!*offsets) return;
    if (!reply || reply->type != REDIS_REPLY_INTEGER ||
        reply->integer < static_cast<long long>(acks_.replicas)) {
      if (reply && reply->type == REDIS_REPLY_INTEGER) ++replica_waits_short_;
      else if (reply && wait_errors_logged_.worth_logging())  // e.g. an ACL without WAIT
        log(LogSeverity::warn, "Redis refused WAIT (" + std::string(error_of(reply)) +
                                   "): publishes are refused while --redis-wait-replicas is set" +
                                   wait_errors_logged_.attempts());
      if (reply && reply->type != REDIS_REPLY_INTEGER) wait_errors_logged_.next();
      for (auto& m : *handlers) m.done(std::nullopt);
      return;
    }
    wait_errors_logged_.succeeded();
    for (std::size_t i = 0; i < (*offsets)->size(); ++i)
      (*handlers)[i].done((**offsets)[i] > 0 ? std::optional<std::uint64_t>((**offsets)[i]) : std::nullopt);
  };
}

// On the strand: the node's mark for a room's script (ARGV), the epoch and offset of the room's
// last message it handed on ('' and 0 when none): the script never numbers another message
// with an offset up to it (skip_lost).
void RedisBroker::add_mark(const std::string& room, std::vector<std::string>& args) const {
  auto it = channels_.find(room);
  if (it == channels_.end() || it->second.delivered.epoch.empty()) {
    args.emplace_back();
    args.emplace_back("0");
    return;
  }
  args.push_back(it->second.delivered.epoch);
  args.push_back(std::to_string(it->second.delivered.offset));
}

void RedisBroker::history(const std::string& room, std::optional<std::uint64_t> after, std::size_t limit,
                       HistoryHandler done) {
  if (!link_->commands_up()) return done(History{});
  net::post(link_->strand(), [this, room, after, limit, done = std::move(done)]() mutable {
    read_history(room, after, limit, std::move(done));
  });
}

void RedisBroker::read_history(const std::string& room, std::optional<std::uint64_t> after, std::size_t limit,
                               HistoryHandler done) {
  const HistoryLimits& limits = history_.limits_for(room);
  std::size_t count = std::min(limit, limits.size);
  auto call = std::make_shared<RedisLink::ScriptCall>();
  call->keys = {link_->keys().history(room), link_->keys().stream(room)};
  call->args = {new_epoch(), std::to_string(numbering_ttl(limits.ttl).count()),
                after ? std::to_string(*after) : std::string(), std::to_string(count), std::to_string(limits.size)};
  add_mark(room, call->args);
  bool sent = link_->run(kHistoryScript, std::move(call), [after, done](redisReply* reply) {
    done(history_of(reply, after));
  });
  if (!sent) done(History{});
}

void RedisBroker::subscribe(const std::string& room) {
  net::post(link_->strand(), [this, room] {
    auto [it, created] = channels_.try_emplace(room);
    if (created) it->second.id = ++channels_made_;
    it->second.wanted = true;
    sync(room);
  });
}

void RedisBroker::unsubscribe(const std::string& room) {
  net::post(link_->strand(), [this, room] {
    auto it = channels_.find(room);
    if (it == channels_.end()) return;
    it->second.wanted = false;
    sync(room);
  });
}

void RedisBroker::when_subscribed(const std::string& room, SubscribedHandler done) {
  net::post(link_->strand(), [this, room, done = std::move(done)]() mutable {
    auto it = channels_.find(room);
    if (it == channels_.end() || !it->second.wanted) return done(false);  // unsubscribed meanwhile
    if (it->second.subscribed) return done(true);
    if (!link_->subscriber_up() || !link_->room_reachable(room) || stopped_) return done(false);
    auto deadline = std::chrono::steady_clock::now() + link_->timing().reply_timeout;
    it->second.waiters.push_back({deadline, std::move(done)});
    arm_waiter_timer(deadline);
  });
}

void RedisBroker::notify(Channel& ch, bool subscribed) {
  auto waiters = std::move(ch.waiters);
  ch.waiters.clear();
  for (auto& w : waiters) w.done(subscribed);
}

// The timer is armed while any waiter waits, for the first deadline (every waiter gets the same
// wait: a waiter added while it is armed is due after that).
void RedisBroker::arm_waiter_timer(std::chrono::steady_clock::time_point deadline) {
  if (waiter_timer_armed_ || stopped_) return;
  if (!waiter_timer_) waiter_timer_ = std::make_unique<net::steady_timer>(link_->strand());
  waiter_timer_armed_ = true;
  waiter_timer_->expires_at(deadline);
  waiter_timer_->async_wait([this](boost::system::error_code ec) {
    if (ec == net::error::operation_aborted) return;
    waiter_timer_armed_ = false;
    expire_waiters();
  });
}

void RedisBroker::expire_waiters() {
  const auto now = std::chrono::steady_clock::now();
  std::vector<SubscribedHandler> due;
  std::optional<std::chrono::steady_clock::time_point> next;
  for (auto& [room, ch] : channels_)
    std::erase_if(ch.waiters, [&](Channel::Waiter& w) {
      if (w.deadline > now) {
        if (!next || w.deadline < *next) next = w.deadline;
        return false;
      }
      due.push_back(std::move(w.done));
      return true;
    });
  for (auto& done : due) done(false);
  if (next) arm_waiter_timer(*next);
}

// Brings the subscriber connection in line with what the node wants for `room`.
void RedisBroker::sync(const std::string& room) {
  auto it = channels_.find(room);
  if (it == channels_.end()) return;
  Channel& ch = it->second;
  // A Redis Cluster's router takes subscribe and unsubscribe at any time and keeps what the node
  // last asked for: it is told every time (an unsubscribe still on its way when a room is
  // wanted again then ends as a lost subscription, caught up from history; one no longer wanted
  // is forgotten, even before its subscription was confirmed).
  if (link_->sharded() && link_->subscriber_up()) {
    if (ch.wanted) link_->subscribe(room);
    else link_->unsubscribe(room);
  }
  // One SUBSCRIBE or UNSUBSCRIBE in flight per channel on one Redis (hiredis keeps one callback
  // per channel).
  if ((ch.in_flight && !link_->sharded()) || !link_->subscriber_up()) return;
  if (!ch.wanted && ch.resubscribing) {  // no longer needed: not awaited for readiness
    ch.resubscribing = false;
    confirmed_one();
  }
  if (ch.wanted == ch.subscribed) {
    if (ch.wanted) notify(ch, true);
    else {
      notify(ch, false);
      if (ch.catching_up) --catching_up_;  // given up: the reconnect's summary no longer waits for it
      channels_.erase(it);
      link_->room_dropped(room);
    }
    return;
  }
  if (link_->sharded()) ch.in_flight = true;  // told above
  else ch.in_flight = ch.wanted ? link_->subscribe(room) : link_->unsubscribe(room);
}

// A message on a room's channel: "<offset>:<epoch>:<push>".
void RedisBroker::on_message(const std::string& room, std::string_view text) {
  auto colon = text.find(':');
  auto second = colon == std::string_view::npos ? colon : text.find(':', colon + 1);
  auto offset = second == std::string_view::npos ? std::nullopt : parse_offset(text.substr(0, colon));
  auto it = channels_.find(room);
  if (!offset || it == channels_.end()) return;
  auto push = protocol::make_payload(std::string(text.substr(second + 1)));
  std::string_view epoch = text.substr(colon + 1, second - colon - 1);
  Channel& ch = it->second;
  if (ch.catching_up) return ch.pending.push_back({*offset, std::string(epoch), std::move(push)});
  if (epoch == ch.delivered.epoch && *offset <= ch.delivered.offset) {
    // Up to what the last catch-up read back: pub/sub brought it too, after the read. Past that,
    // a master that lacked the room's latest messages (after a failover) numbered this one with
    // an offset the node already handed on: it cannot reach the room's subscribers under it, and
    // the room's numbering is moved past the node's mark at once (a read of no message).
    if (epoch == ch.read_back.epoch && *offset <= ch.read_back.offset) return;
    ++stale_messages_;
    if (!ch.renumbering) {
      ch.renumbering = true;
      read_history(room, std::nullopt, 0, [this, room, id = ch.id](const History&) {
        auto it = channels_.find(room);
        if (it != channels_.end() && it->second.id == id) it->second.renumbering = false;
      });
    }
    return;
  }
  hand(room, ch, push, *offset, epoch);
}

// Redis confirmed a SUBSCRIBE or UNSUBSCRIBE of the room's channel, or (a Redis Cluster) the
// room's master lost its subscription.
void RedisBroker::on_subscription(const std::string& room, RedisLink::Subscription state) {
  auto it = channels_.find(room);
  if (it == channels_.end()) return;
  Channel& ch = it->second;
  if (state == RedisLink::Subscription::lost) {
    // Not subscribed now, but the link subscribes it again by itself, where the room's slot then
    // lives: its confirmation comes as for a SUBSCRIBE, and what was missed meanwhile is read
    // back from history (the room's position is kept). Not ready until then.
    ch.subscribed = false;
    ch.in_flight = true;
    if (ch.wanted && !ch.resubscribing) {
      ch.resubscribing = true;
      ++unconfirmed_;
      resubscribed_ = false;
    }
    return;
  }
  bool subscribed = state == RedisLink::Subscription::subscribed;
  ch.in_flight = false;
  if (subscribed && !ch.subscribed && ch.resubscribing) {
    ch.resubscribing = false;
    confirmed_one();
  }
  if (subscribed && !ch.subscribed) {
    ch.subscribed = true;
    // Subscribed again (the subscriber connection came back): what pub/sub dropped meanwhile
    // is read back from history before anything newer is handed on.
    if (ch.was_subscribed) start_catch_up(room, ch);
    ch.was_subscribed = true;
  } else if (!subscribed) {
    if (ch.catching_up) --catching_up_;
    ch.subscribed = ch.was_subscribed = ch.catching_up = false;
    ch.delivered = {};
    ch.pending.clear();
  }
  sync(room);
}

void RedisBroker::hand(const std::string& room, Channel& ch, const protocol::Payload& push, std::uint64_t offset,
                    std::string_view epoch) {
  ch.delivered.offset = offset;
  if (ch.delivered.epoch != epoch) ch.delivered.epoch = epoch;
  if (deliver_) deliver_(room, push, offset, epoch);
}

void RedisBroker::start_catch_up(const std::string& room, Channel& ch) {
  if (!ch.catching_up) ++catching_up_;
  ch.catching_up = true;
  if (ch.catch_up_sent) {
    ch.catch_up_again = true;
    return;
  }
  ch.catch_up_tries = 0;
  send_catch_up(room, ch, ch.delivered.epoch.empty() ? std::nullopt : std::optional(ch.delivered.offset));
}

// Without `after` (the node delivered nothing of the room yet) only the room's position is read.
void RedisBroker::send_catch_up(const std::string& room, Channel& ch, std::optional<std::uint64_t> after) {
  if (!link_->commands_up() || !link_->room_reachable(room)) return;  // sent when the connection comes up
  ch.catch_up_sent = true;
  ++ch.catch_up_tries;
  std::size_t limit = after ? history_.limits_for(room).size : 0;
  read_history(room, after, limit, [this, room, id = ch.id, after](History history) {
    auto it = channels_.find(room);
    if (it == channels_.end() || it->second.id != id) return;  // unsubscribed meanwhile
    Channel& ch = it->second;
    ch.catch_up_sent = false;
    if (!ch.catching_up) return;
    if (!history.available) {
      if (ch.catch_up_tries < 3) return send_catch_up(room, ch, after);
      // Redis answers, but not this: hand on what arrived; a gap is announced by the registry.
      return finish_catch_up(room, ch, history);
    }
    // Redis lost the room's history (it restarted empty): read the new epoch from its start.
    if (after && *after > 0 && history.position.epoch != ch.delivered.epoch) return send_catch_up(room, ch, 0);
    finish_catch_up(room, ch, history);
  });
}

void RedisBroker::finish_catch_up(const std::string& room, Channel& ch, const History& history) {
  if (history.available) {
    ch.read_back = history.position;
    const std::string& epoch = history.position.epoch;
    const bool delivered_before = !ch.delivered.epoch.empty();
    std::size_t read_back = 0;
    for (const auto& entry : history.messages)
      if (epoch != ch.delivered.epoch || entry.offset > ch.delivered.offset) {
        hand(room, ch, entry.push, entry.offset, epoch);
        ++read_back;
      }
    // Where the room stands, when the history no longer holds every message up to it.
    bool lost = epoch != ch.delivered.epoch || history.position.offset > ch.delivered.offset;
    if (lost) hand(room, ch, nullptr, history.position.offset, epoch);
    if (delivered_before) {
      catch_up_report_.messages += read_back;
      if (lost) ++catch_up_report_.rooms_announced;
    }
  }
  auto pending = std::move(ch.pending);
  ch.pending.clear();
  ch.catching_up = false;
  ++catch_up_report_.rooms;
  if (--catching_up_ == 0 && !ch.catch_up_again) {  // one line for the whole reconnect
    const auto& r = catch_up_report_;
    log(LogSeverity::info,
        "subscribed again to " + std::to_string(r.rooms) + " room(s): " + std::to_string(r.messages) +
            " message(s) missed meanwhile read back from history" +
            (r.rooms_announced == 0 ? std::string()
                                    : "; " + std::to_string(r.rooms_announced) +
                                          " room(s) had moved on beyond their history (a new epoch, or too many "
                                          "messages): their subscribers are told to recover"));
    catch_up_report_ = {};
  }
  for (auto& p : pending)
    if (p.epoch != ch.delivered.epoch || p.offset > ch.delivered.offset) hand(room, ch, p.push, p.offset, p.epoch);
  if (ch.catch_up_again) {
    ch.catch_up_again = false;
    start_catch_up(room, ch);
  }
}

void RedisBroker::on_subscriber_state(bool up) {
  if (up && subscriber_connected_before_) ++reconnects_;
  if (up) subscriber_connected_before_ = true;
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
