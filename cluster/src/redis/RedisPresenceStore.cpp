#include "redis/RedisPresenceStore.h"

#include "redis/RedisReply.h"
#include "switchboard/cluster/ClusterLog.h"
#include "switchboard/cluster/RandomId.h"
#include "switchboard/protocol/LeaveEventSlot.h"

#include <hiredis/hiredis.h>

#include <boost/asio/post.hpp>
#include <future>

namespace switchboard::cluster {

namespace net = boost::asio;

namespace {

// Removes one connection of `user`; when it was the user's last, publishes the leave event: the
// kind byte and protocol::leave_event_slot's head, the info the user's first connection left,
// then the slot's tail. Returns 1, 2 when the connection was the user's last in the room, 3
// when the room has no member left, or 0 when Redis has no such connection of the user.
constexpr const char* kLeaveFunction = R"lua(
local function leave(conns, users, info, channel, field, user, head, tail)
  if redis.call('HGET', conns, field) ~= user then return 0 end
  redis.call('HDEL', conns, field)
  if redis.call('HINCRBY', users, user, -1) <= 0 then
    redis.call('HDEL', users, user)
    local i = redis.call('HGET', info, user) or '{}'
    redis.call('HDEL', info, user)
    redis.call(PUBLISH, channel, head .. i .. tail)
    if redis.call('HLEN', users) == 0 then return 3 end
    return 2
  end
  return 1
end
)lua";

// Every script below touches the keys of one hash slot only (RedisKeys: in the tagged layout of
// a Redis Cluster, a room's keys and channel share the room's slot, the liveness keys the {nodes}
// slot). What spans a room and a node is done in steps, each on its own keys, in an order that a
// node dying between two steps leaves reapable: a join adds to the node's set of connections
// (SADD, the node's slot) before the room's script, a leave removes from it (SREM) after.

// A join's room script. KEYS: conns users info channel   ARGV: field user info-json join-event
// Returns 1 when the connection joined, 2 when it is the user's first in the room, 3 when the
// user is the room's first member, 0 when Redis had the connection already.
constexpr const char* kJoinText = R"lua(
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
if redis.call('HINCRBY', KEYS[2], ARGV[2], 1) == 1 then
  redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
  redis.call(PUBLISH, KEYS[4], ARGV[4])
  if redis.call('HLEN', KEYS[2]) == 1 then return 3 end
  return 2
end
return 1
)lua";

// A leave's room script, and a reaped connection's. KEYS: conns users info channel
// ARGV: field user head tail [leave-event]. Returns 1 when the connection left.
// With the leave event (a leave replayed after an outage): when Redis no longer knows the
// connection (it restarted empty) and counts no connection of the user, the leave is announced
// all the same, for subscribers that saw the user join before the restart.
constexpr const char* kLeaveBody = R"lua(
local r = leave(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
if r == 0 and ARGV[5] and not redis.call('HGET', KEYS[2], ARGV[2]) then redis.call(PUBLISH, KEYS[4], ARGV[5]) end
return r
)lua";

// Reaping a node presumed dead, in steps (each on the keys of one slot):
// 1. claim, KEYS: nodes grace alive   ARGV: node
//    1 when the node is listed, its alive key has run out and no grace period holds reaps off.
// 2. SMEMBERS of its connection set ("<room>\n<node>/<connection>"), and for each member: the
//    user Redis names for the connection (HGET), the leave's room script, then SREM from the set.
// 3. Once SCARD reads the set empty, unlist, KEYS: nodes alive   ARGV: node
//    Unless the node came back meanwhile (its alive key is there again), it leaves the list:
//    returns 1 then. Otherwise it stays listed, and the next heartbeat's reap finishes the work.
// A node that comes back while it is being reaped may lose connections to the reap (its alive
// key is no longer read per connection): its heartbeat finds its alive key had run out, and it
// registers its connections again, so its users leave and join again, and none stays lost.
constexpr const char* kClaimText = R"lua(
if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
return redis.call('SISMEMBER', KEYS[1], ARGV[1])
)lua";

constexpr const char* kUnlistText = R"lua(
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
return redis.call('SREM', KEYS[1], ARGV[1])
)lua";

// KEYS: alive nodes last-beat grace    ARGV: node-id alive-ttl-ms stall-ms grace-ms
// When no node at all has beaten for stall-ms (Redis hung), every liveness key may have run out
// together: no node is reaped for grace-ms, while the nodes come back. (A Redis that restarted
// empty lists no node to reap.)
// Returns 1 when Redis did not list the node (it restarted empty, or the node was reaped) or its
// alive key had run out (other nodes may have reaped some of its connections).
constexpr const char* kHeartbeatText = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local last = redis.call('GET', KEYS[3])
if last and now - tonumber(last) > tonumber(ARGV[3]) then redis.call('SET', KEYS[4], '1', 'PX', ARGV[4]) end
redis.call('SET', KEYS[3], now)
local was_alive = redis.call('EXISTS', KEYS[1])
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
if redis.call('SADD', KEYS[2], ARGV[1]) == 1 or was_alive == 0 then return 1 end
return 0
)lua";

// KEYS: users info
constexpr const char* kListText = R"lua(
return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}
)lua";

const std::string kLeaveText = std::string(kLeaveFunction) + kLeaveBody;
const RedisScript kJoinScript("presence join", kJoinText);
const RedisScript kLeaveScript("presence leave", kLeaveText);
const RedisScript kClaimScript("presence claim", kClaimText);
const RedisScript kUnlistScript("presence unlist", kUnlistText);
const RedisScript kHeartbeatScript("heartbeat", kHeartbeatText);
const RedisScript kListScript("presence list", kListText);

std::shared_ptr<RedisLink::ScriptCall> script_call(std::vector<std::string> keys, std::vector<std::string> args) {
  auto call = std::make_shared<RedisLink::ScriptCall>();
  call->keys = std::move(keys);
  call->args = std::move(args);
  return call;
}

std::string str(const redisReply* r) { return r->type == REDIS_REPLY_STRING ? std::string(r->str, r->len) : std::string(); }

}  // namespace

RedisPresenceStore::RedisPresenceStore(std::shared_ptr<RedisLink> link, std::chrono::milliseconds node_timeout)
    : link_(std::move(link)), node_timeout_(node_timeout), node_id_(random_id()), retry_backoff_(link_->timing()) {
  for (const RedisScript* script : {&kJoinScript, &kLeaveScript, &kClaimScript, &kUnlistScript, &kHeartbeatScript,
                                   &kListScript})
    link_->use(*script);
  link_->on_channel('p', [this](const std::string& room, std::string_view text) {
    auto event = protocol::make_payload(std::string(text));
    if (on_event_ && show(room, event)) on_event_(room, event);
  });
  link_->on_commands_state([this](bool up, const RedisLink::Serves& serves) {
    if (up && started_) resync(&serves);
  });
  link_->on_room_dropped([this](const std::string& room) { shown_.erase(room); });
}

RedisPresenceStore::~RedisPresenceStore() = default;

void RedisPresenceStore::set_event_handler(EventHandler handler) { on_event_ = std::move(handler); }

// On the strand, for every event from Redis: what this node's subscribers were last shown of the
// user decides.
bool RedisPresenceStore::show(const std::string& room, const protocol::Payload& event) {
  auto parsed = nlohmann::json::parse(*event, nullptr, false);
  if (!parsed.is_object() || !parsed["user"].is_string() || !parsed["type"].is_string()) return true;
  const bool join = parsed["type"] == "join";
  auto [it, added] = shown_[room].try_emplace(parsed["user"].get<std::string>());
  if (!added && it->second.present == join) return false;  // said already
  it->second = {join, std::chrono::steady_clock::now()};
  return true;
}

// Leaves are remembered long enough to drop the repeats that follow an outage.
void RedisPresenceStore::forget_old_leaves() {
  auto before = std::chrono::steady_clock::now() - std::chrono::minutes(10);
  for (auto room = shown_.begin(); room != shown_.end();) {
    std::erase_if(room->second, [&](const auto& user) { return !user.second.present && user.second.at < before; });
    room = room->second.empty() ? shown_.erase(room) : std::next(room);
  }
}

void RedisPresenceStore::start() {
  net::post(link_->strand(), [this] {
    started_ = true;
    timer_ = std::make_unique<net::steady_timer>(link_->strand());
    replay_timer_ = std::make_unique<net::steady_timer>(link_->strand());
    retry_timer_ = std::make_unique<net::steady_timer>(link_->strand());
    if (link_->commands_up()) resync();
    heartbeat();
  });
}

void RedisPresenceStore::stop() {
  if (!link_->started()) return;
  auto flushed = std::make_shared<std::promise<void>>();
  auto done = flushed->get_future();
  net::post(link_->strand(), [this, flushed] {
    stopped_ = true;
    if (timer_) timer_->cancel();
    if (replay_timer_) replay_timer_->cancel();
    if (retry_timer_) retry_timer_->cancel();
    // Out of the cluster's list of nodes too: a node that stopped cleanly has left every room, and
    // is not presumed dead (nor reaped, nor logged as such) by the others.
    // Only once Redis has the leaves of the closing connections (sent again after a NOSCRIPT
    // included): a node off the list is never reaped, so a leave lost behind it would stay.
    link_->barrier([this, flushed](bool ran) {
      if (!ran) return flushed->set_value();
      link_->command({"DEL", keys().node_alive(node_id_)}, [](redisReply*) {});
      link_->command({"SREM", keys().nodes(), node_id_}, [](redisReply*) {});
      // Answered after both: once it comes back, Redis has them.
      if (!link_->command({"PING"}, [flushed](redisReply*) { flushed->set_value(); })) flushed->set_value();
    });
  });
  done.wait_for(std::chrono::seconds(2));
}

void RedisPresenceStore::heartbeat() {
  if (stopped_) return;
  if (link_->commands_up()) {
    beat(false);
    // Not while settling: the other nodes may not be back yet.
    if (std::chrono::steady_clock::now() >= settled_at_) reap();
  }
  forget_old_leaves();
  timer_->expires_after(node_timeout_ / 3);
  timer_->async_wait([this](boost::system::error_code ec) {
    if (!ec) heartbeat();
  });
}

// The heartbeat script: the node's alive key renewed, the node listed (the only place a node
// registers itself). `resyncing`: the beat resync() sends ahead of its joins, whose answer starts
// no other resync.
void RedisPresenceStore::beat(bool resyncing) {
  link_->run(kHeartbeatScript,
             script_call({keys().node_alive(node_id_), keys().nodes(), keys().nodes_last_beat(), keys().nodes_grace()},
                         {node_id_, std::to_string(node_timeout_.count()),
                          std::to_string((node_timeout_ * 2 / 3).count()), std::to_string(settling_time().count())}),
             [this, resyncing](redisReply* reply) {
               if (reply && reply->type == REDIS_REPLY_ERROR && !stopped_) {
                 beat_refused_ = true;
                 return refused(error_of(reply));
               }
               if (!reply || reply->type != REDIS_REPLY_INTEGER || stopped_) return;
               if (reply->integer == 1 && registered_ && !resyncing) {
                 log(LogSeverity::info,
                     "Redis no longer listed this node, or its liveness ran out: registering its connections again");
                 resync();
               }
               registered_ = true;
             });
}

// Removes the connections of the nodes that stopped beating, as leaves (the reap's steps).
void RedisPresenceStore::reap() {
  link_->command({"SMEMBERS", keys().nodes()}, [this](redisReply* reply) {
    if (!reply || reply->type != REDIS_REPLY_ARRAY || stopped_) return;
    for (std::size_t i = 0; i < reply->elements; ++i)
      if (std::string node = str(reply->element[i]); !node.empty() && node != node_id_) reap_node(node);
  });
}

void RedisPresenceStore::reap_node(const std::string& node) {
  link_->run(kClaimScript, script_call({keys().nodes(), keys().nodes_grace(), keys().node_alive(node)}, {node}),
             [this, node](redisReply* reply) {
               if (!reply || reply->type != REDIS_REPLY_INTEGER || reply->integer != 1 || stopped_) return;  // alive, or reaped
               link_->command({"SMEMBERS", keys().node_conns(node)}, [this, node](redisReply* reply) {
                 if (!reply || reply->type != REDIS_REPLY_ARRAY || stopped_) return;
                 auto reaping = std::make_shared<Reaping>(Reaping{node, reply->elements, 0});
                 if (reply->elements == 0) return unlist(reaping);
                 for (std::size_t i = 0; i < reply->elements; ++i) reap_connection(reaping, str(reply->element[i]));
               });
             });
}

// One member of a dead node's set, "<room>\n<node>/<connection>": its user, its leave (the room's
// script), then the member out of the set. A lost connection or an error leaves the rest to the
// next heartbeat's reap.
void RedisPresenceStore::reap_connection(std::shared_ptr<Reaping> reaping, const std::string& member) {
  auto nl = member.find('\n');
  std::string room = member.substr(0, nl), f = nl == std::string::npos ? std::string() : member.substr(nl + 1);
  link_->command({"HGET", keys().presence_conns(room), f}, [this, reaping, member, room, f](redisReply* reply) {
    if (!reply || reply->type == REDIS_REPLY_ERROR || stopped_) return;
    std::string user = str(reply);
    auto slot = protocol::leave_event_slot(room, user);
    link_->run(kLeaveScript,
               script_call({keys().presence_conns(room), keys().presence_users(room), keys().presence_info(room),
                            keys().channel(room)},
                           {f, user, "p" + slot.head, slot.tail}),
               [this, reaping, member, room, user](redisReply* reply) {
                 if (!reply || reply->type != REDIS_REPLY_INTEGER || stopped_) return;
                 reaping->reaped += reply->integer > 0 ? 1 : 0;
                 if (reply->integer >= 2 && on_member_) on_member_(room, user, std::string(), false, reply->integer == 3);
                 link_->command({"SREM", keys().node_conns(reaping->node), member}, [this, reaping](redisReply* reply) {
                   if (!reply || reply->type == REDIS_REPLY_ERROR || stopped_) return;
                   if (--reaping->waiting == 0) unlist(reaping);
                 });
               });
  });
}

// Once the dead node's set reads empty, the node goes off the list (unless it came back).
void RedisPresenceStore::unlist(std::shared_ptr<Reaping> reaping) {
  link_->command({"SCARD", keys().node_conns(reaping->node)}, [this, reaping](redisReply* reply) {
    if (!reply || reply->type != REDIS_REPLY_INTEGER || reply->integer != 0 || stopped_) return;
    link_->run(kUnlistScript, script_call({keys().nodes(), keys().node_alive(reaping->node)}, {reaping->node}),
               [this, reaping](redisReply* reply) {
                 if (!reply || reply->type != REDIS_REPLY_INTEGER || reply->integer != 1) return;
                 log(LogSeverity::warn, "presumed node " + reaping->node + " dead (no heartbeat for " +
                                            std::to_string(node_timeout_.count()) + " ms): reaped its " +
                                            std::to_string(reaping->reaped) + " connections from presence");
               });
  });
}

// The settling time after this node reached Redis again: every live node has registered its
// connections again by then (each does as soon as it is back, within its reconnect backoff).
void RedisPresenceStore::resync(const RedisLink::Serves* serves) {
  if (stopped_) return;
  // The node registers itself first: its joins follow (in order, on the one connection).
  beat(true);
  // With a Redis Cluster, a master that came back (perhaps empty) gets the joins of its rooms;
  // all of them when it holds the node's set of connections.
  if (!serves || (*serves)(keys().node_conns(node_id_))) {
    refused_joins_.clear();  // sent again here
    for (const auto& [k, entry] : local_) send_join(k.first, k.second, entry);
  } else {
    for (const auto& [k, entry] : local_)
      if ((*serves)(keys().presence_conns(k.first))) {
        refused_joins_.erase(k);
        send_join(k.first, k.second, entry);
      }
  }
  if (!resynced_before_) {  // the node's first connection: no other node lost Redis because of it
    resynced_before_ = true;
    return replay_leaves();
  }
  auto settle = settling_time();
  settled_at_ = std::chrono::steady_clock::now() + settle;
  replay_timer_->expires_after(settle);
  replay_timer_->async_wait([this](boost::system::error_code ec) {
    if (!ec) replay_leaves();
  });
}

void RedisPresenceStore::replay_leaves() {
  if (stopped_ || !link_->commands_up()) return;  // the next resync() schedules them again
  refused_leaves_.clear();  // sent again here
  for (const auto& [k, entry] : unconfirmed_leaves_) send_leave(k.first, k.second, entry, true);
}

void RedisPresenceStore::refused(std::string_view error) {
  if (retry_armed_ || stopped_ || !retry_timer_) return;
  if (retry_backoff_.worth_logging())
    log(LogSeverity::warn, "Redis refused presence updates (" + std::string(error) + "): sending them again" +
                               retry_backoff_.attempts());
  retry_armed_ = true;
  retry_timer_->expires_after(retry_backoff_.next());
  retry_timer_->async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    retry_armed_ = false;
    retry_refused();
  });
}

void RedisPresenceStore::retry_refused() {
  if (stopped_ || !link_->commands_up()) return;  // resync() sends them when Redis is back
  if (beat_refused_) {  // the node registers itself again first: its joins follow
    beat_refused_ = false;
    beat(true);
  }
  auto joins = std::move(refused_joins_);
  refused_joins_.clear();
  for (const auto& k : joins)
    if (auto it = local_.find(k); it != local_.end()) send_join(k.first, k.second, it->second);
  // Not before the settling time after a reconnect: replay_leaves() sends them then.
  if (std::chrono::steady_clock::now() < settled_at_) return;
  // As replayed leaves: were the master to have restarted empty meanwhile, the leave is still
  // announced to those who saw the user join.
  auto leaves = std::move(refused_leaves_);
  refused_leaves_.clear();
  for (const auto& k : leaves)
    if (auto it = unconfirmed_leaves_.find(k); it != unconfirmed_leaves_.end()) send_leave(k.first, k.second, it->second, true);
}

// Two steps: the connection into the node's set (the node's slot), then the room's script. A
// connection's join and leave are sent in order, each step behind the same step of the one before.
void RedisPresenceStore::send_join(const std::string& room, ConnectionId conn, const Entry& entry) {
  std::string f = field(conn);
  std::string event = "p" + *protocol::presence_event(protocol::PresenceEventType::join, room, entry.user,
                                                      nlohmann::json::parse(entry.info));
  if (!link_->command({"SADD", keys().node_conns(node_id_), room + "\n" + f}, [](redisReply*) {})) return;
  // Lost with the connection: resync() sends it again. Refused: sent again a moment later.
  link_->run(kJoinScript,
             script_call({keys().presence_conns(room), keys().presence_users(room), keys().presence_info(room),
                          keys().channel(room)},
                         {f, entry.user, entry.info, std::move(event)}),
             [this, k = Key{room, conn}, user = entry.user, info = entry.info](redisReply* reply) {
               if (reply && reply->type == REDIS_REPLY_ERROR) {
                 refused_joins_.insert(k);
                 refused(error_of(reply));
               } else if (reply) {
                 retry_backoff_.succeeded();
                 if (reply->type == REDIS_REPLY_INTEGER && reply->integer >= 2 && on_member_)
                   on_member_(k.first, user, info, true, reply->integer == 3);
               }
             });
}

// Two steps: the room's script, then the connection out of the node's set.
void RedisPresenceStore::send_leave(const std::string& room, ConnectionId conn, const Entry& entry, bool replayed) {
  std::string f = field(conn);
  auto slot = protocol::leave_event_slot(room, entry.user);
  std::vector<std::string> args{f, entry.user, "p" + slot.head, slot.tail};
  if (replayed) args.push_back(args[2] + entry.info + slot.tail);
  bool sent = link_->run(kLeaveScript,
                         script_call({keys().presence_conns(room), keys().presence_users(room),
                                      keys().presence_info(room), keys().channel(room)},
                                     std::move(args)),
                         [this, k = Key{room, conn}, user = entry.user, info = entry.info](redisReply* reply) {
                           if (reply && reply->type == REDIS_REPLY_ERROR) {
                             refused_leaves_.insert(k);
                             return refused(error_of(reply));
                           }
                           if (!reply) return;  // replayed after the reconnect
                           unconfirmed_leaves_.erase(k);
                           retry_backoff_.succeeded();
                           if (reply->type == REDIS_REPLY_INTEGER && reply->integer >= 2 && on_member_)
                             on_member_(k.first, user, info, false, reply->integer == 3);
                         });
  if (sent) link_->command({"SREM", keys().node_conns(node_id_), room + "\n" + f}, [](redisReply*) {});
}

void RedisPresenceStore::join(const std::string& room, ConnectionId conn, const std::string& user,
                              const nlohmann::json& info) {
  net::post(link_->strand(), [this, room, conn, user, info = info.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)] {
    Key k{room, conn};
    auto [it, added] = local_.emplace(k, Entry{user, info});
    if (!added) return;
    unconfirmed_leaves_.erase(k);
    if (link_->commands_up()) send_join(room, conn, it->second);
  });
}

void RedisPresenceStore::leave(const std::string& room, ConnectionId conn) {
  net::post(link_->strand(), [this, room, conn] {
    Key k{room, conn};
    auto it = local_.find(k);
    if (it == local_.end()) return;
    const Entry& entry = unconfirmed_leaves_[k] = std::move(it->second);
    local_.erase(it);
    if (link_->commands_up()) send_leave(room, conn, entry, false);
  });
}

void RedisPresenceStore::list(const std::string& room, ListHandler done) {
  net::post(link_->strand(), [this, room, done = std::move(done)]() mutable {
    bool sent = link_->run(kListScript, script_call({keys().presence_users(room), keys().presence_info(room)}, {}), [done](redisReply* reply) {
          if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) return done(std::nullopt);
          const redisReply* counts = reply->element[0];
          const redisReply* infos = reply->element[1];
          std::map<std::string, protocol::PresenceMember> members;  // sorted by user id
          for (std::size_t i = 0; i + 1 < counts->elements; i += 2) {
            auto& m = members[str(counts->element[i])];
            m.user = str(counts->element[i]);
            m.conns = std::atoi(str(counts->element[i + 1]).c_str());
          }
          for (std::size_t i = 0; i + 1 < infos->elements; i += 2) {
            auto it = members.find(str(infos->element[i]));
            if (it == members.end()) continue;
            auto parsed = nlohmann::json::parse(str(infos->element[i + 1]), nullptr, false);
            if (parsed.is_object()) it->second.info = std::move(parsed);
          }
          std::vector<protocol::PresenceMember> out;
          out.reserve(members.size());
          for (auto& [user, m] : members)
            if (m.conns > 0) out.push_back(std::move(m));
          done(std::move(out));
        });
    if (!sent) done(std::nullopt);
  });
}

}  // namespace switchboard::cluster
