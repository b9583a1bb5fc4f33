#pragma once
// A node's link to Redis: the two connections (commands, and the subscriber that receives the
// room channels), the strand that runs every Redis call and reply, and the Lua scripts. The
// RedisBroker and the RedisPresenceStore each hold a share of it and use it through the calls
// below; neither reaches into the other.
//
// Scripts: every script a user of the link registers (use()) is loaded, as the link's own copy
// (RedisScript::tagged), each time the command connection comes up, before anyone hears that it
// is up, and called with EVALSHA. When Redis answers NOSCRIPT (it restarted with the connection
// still up, or SCRIPT FLUSH), the link loads them all again and sends the call once more. Every
// script call in flight behind it is refused too (only this link's own SCRIPT LOAD brings its
// copies back), and script calls asked for meanwhile wait for the scripts: the calls that found
// no script are sent again as their answers come, in that order, ahead of the waiting ones.
// A plain command is not held back by a script call in flight: what must follow script calls
// waits for barrier().
//
// Channels: what a room's channel (RedisKeys::channel) carries is one kind byte and a body; each
// kind has its handler ('m' messages: the broker, 'p' presence events: the presence store). Other
// channels are named ones (the control channel's, RedisControlChannel): each has its handler,
// which gets the whole message, and whoever subscribes one subscribes it again when the
// subscriber connection comes back (one Redis; a Redis Cluster's router does it by itself).
//
// Names: every key and channel name comes from the link's RedisKeys (the prefix, in the classic
// layout of one Redis unless the link is made with another).
//
// A Redis Cluster (shard_over()): the link reaches its masters through a ClusterRouter instead of
// the two connections. Every call goes to the master of its first key's slot (a command's: its
// second word, the key it acts on), every room channel is a sharded one (SSUBSCRIBE, and the
// scripts' PUBLISH is SPUBLISH), on the master of the room's slot. The names must be tagged
// (RedisKeys), so that each call's keys share the room's slot. The commands handlers hear `true`
// each time a master's command connection comes up (at a master that knows sharded pub/sub:
// Redis 7 or newer; an older one is logged and left unused, ShardLink); the subscriber is up
// from start() on, and a room whose subscription its master lost is reported `lost`, then
// `subscribed` again wherever its slot then lives.
//
// Threading: start() and stop() from the node's main thread; commands_up(), subscriber_up(),
// ready() from any thread; everything else on the strand. Handlers run on the strand.
#include <boost/asio/io_context.hpp>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "redis/ClusterRouter.h"
#include "redis/RedisConnection.h"
#include "redis/RedisKeys.h"
#include "redis/RedisScript.h"
#include "redis/ScriptCall.h"
#include "redis/SentinelResolver.h"
#include "switchboard/protocol/Payload.h"

namespace switchboard::cluster {

class RedisLink {
 public:
  using Strand = RedisConnection::Strand;
  using ReplyHandler = RedisConnection::ReplyHandler;
  using StateHandler = std::function<void(bool up)>;
  // A message on a room's channel: the room, and the body after the kind byte.
  using ChannelHandler = std::function<void(const std::string& room, std::string_view body)>;
  // A room channel's subscription: confirmed by Redis (subscribed), ended as asked
  // (unsubscribed), or, with a Redis Cluster, lost although still wanted (lost: the link
  // subscribes it again, where its slot lives, and reports subscribed then).
  using Subscription = ClusterRouter::Subscription;
  using SubscriptionHandler = std::function<void(const std::string& room, Subscription state)>;
  using RoomHandler = std::function<void(const std::string& room)>;

  using ScriptCall = cluster::ScriptCall;

  RedisLink(RedisAddress address, std::string prefix, RedisTiming timing,
            RedisKeys::Layout layout = RedisKeys::Layout::classic);
  // After the event loop stopped: frees the connections (their pending handlers get nullptr).
  ~RedisLink();
  RedisLink(const RedisLink&) = delete;
  RedisLink& operator=(const RedisLink&) = delete;

  // Before start(): the scripts to load, and who hears of what.
  // The link loads and calls its own tagged copy of the script (RedisScript::tagged).
  void use(const RedisScript& script);
  // Calls `done` (true) once Redis has run every call asked for before, those sent again after a
  // NOSCRIPT included; false when the connection is down. A PING that, when its answer finds
  // the scripts being loaded again, goes again behind them.
  void barrier(std::function<void(bool ran)> done);
  // The digest this link calls `script` by (its own copy's).
  const std::string& digest_of(const RedisScript& script) const { return own(script).sha(); }
  // Which keys a connection that came up serves: with a Redis Cluster, one master's slots; one
  // Redis serves every key.
  using Serves = std::function<bool(std::string_view key)>;
  using CommandsStateHandler = std::function<void(bool up, const Serves& serves)>;
  void on_commands_state(CommandsStateHandler handler) { commands_state_.push_back(std::move(handler)); }
  void on_subscriber_state(StateHandler handler) { subscriber_state_.push_back(std::move(handler)); }
  void on_subscription(SubscriptionHandler handler) { subscription_ = std::move(handler); }
  void on_channel(char kind, ChannelHandler handler) { channels_[kind] = std::move(handler); }
  // A named channel's messages (not a room's), whole.
  using NamedChannelHandler = std::function<void(std::string_view message)>;
  void on_named_channel(std::string channel, NamedChannelHandler handler) {
    named_channels_[std::move(channel)] = std::move(handler);
  }
  void on_room_dropped(RoomHandler handler) { room_dropped_.push_back(std::move(handler)); }

  // Before start(): the master is the one the sentinels name (--redis-sentinel), not the address
  // given. Both connections ask a SentinelResolver for it on every connect and go up only at a
  // master (ROLE). They drop and connect again when the master changed: a READONLY answer, the
  // sentinels' +switch-master or another address at their periodic check, or a ROLE other than
  // master at the link's own check of the command connection (every check_period).
  void follow_sentinels(SentinelResolver::Options options) { sentinel_options_ = std::move(options); }
  // Before use() and start(): the link reaches a Redis Cluster found from `options.seeds` (the
  // link's address is not used).
  void shard_over(ClusterTopology::Options options);
  bool sharded() const { return topology_options_.has_value(); }
  // Connects once the node's event loop runs; stop() disconnects (it waits for the strand).
  void start(boost::asio::io_context& ioc);
  void stop();
  bool started() const { return strand_.has_value(); }
  const Strand& strand() const { return *strand_; }

  // One Redis: its connections are up. A Redis Cluster: a master's command connection is up; the
  // subscriber is up from start() on (each room subscribes when its master can).
  bool commands_up() const { return router_ ? router_->masters_up() > 0 : commands_up_.load(); }
  bool subscriber_up() const { return subscriber_up_; }
  // A Redis Cluster: every slot has a master, and every room of the node is subscribed (on its
  // master, up). One Redis: true (commands_up() and subscriber_up() say it).
  bool ready() const { return !router_ || router_->ready(); }

  // On the strand. Like RedisConnection::command: false, without calling `done`, when the command
  // connection is not up; otherwise `done` runs exactly once (nullptr: the connection was lost).
  // With a Redis Cluster a command goes to the master of its key (its second word); one without
  // key (PING) waits for every call asked for before, then `done` gets nullptr.
  bool command(std::vector<std::string> args, ReplyHandler done);
  // A script call: `done` gets the script's answer. With a wait (ScriptCall::wait), `WAIT`
  // follows the script on the same connection (one Redis: the command connection; a Redis
  // Cluster: the master that ran it), and `waited` runs once after `done` with that WAIT's answer
  // (nullptr: lost, or the call failed). A unit sent again (NOSCRIPT, a redirection) sends its
  // WAIT again, and only the WAIT behind the script whose answer `done` got counts.
  bool run(const RedisScript& script, std::shared_ptr<const ScriptCall> call, ReplyHandler done,
           ReplyHandler waited = nullptr);
  // The subscriber connection: SUBSCRIBE / UNSUBSCRIBE a room's channel (answers go to the
  // subscription handler). False when it is not up.
  bool subscribe(const std::string& room);
  bool unsubscribe(const std::string& room);
  // On the strand: SUBSCRIBE (a Redis Cluster: SSUBSCRIBE) a named channel. False when the
  // subscriber is not up. ready() does not wait for it.
  bool subscribe_named(const std::string& channel);
  // The command that publishes on a channel this link subscribes: PUBLISH, or SPUBLISH with a
  // Redis Cluster (its channels are sharded).
  const char* publish_command() const { return router_ ? "SPUBLISH" : "PUBLISH"; }
  // On the strand. A Redis Cluster: a master serves the room's slot and its command connection is
  // up. One Redis: true.
  bool room_reachable(const std::string& room) const {
    return !router_ || router_->available(keys_.channel(room));
  }
  // The node no longer receives the room's channel: the room-dropped handlers forget it.
  void room_dropped(const std::string& room);

  const RedisKeys& keys() const { return keys_; }
  const RedisTiming& timing() const { return timing_; }

 private:
  void start_router();
  void commands_changed(bool up);
  void load_scripts(ReplyHandler last_loaded);
  bool send_script(const RedisScript& script, std::shared_ptr<const ScriptCall> call, ReplyHandler done,
                   ReplyHandler waited, bool may_reload);
  void scripts_lost();
  void on_push(redisReply* reply);
  void channel_message(std::string_view channel, std::string_view body);
  void master_lost(std::string_view why);
  void check_master();

  RedisAddress address_;
  RedisKeys keys_;
  RedisTiming timing_;
  const std::string tag_;  // this link's scripts' first line
  // The scripts used, each with the link's own copy: what it loads and calls.
  std::vector<std::pair<const RedisScript*, RedisScript>> scripts_;
  const RedisScript& own(const RedisScript& script) const;
  std::vector<CommandsStateHandler> commands_state_;
  std::vector<StateHandler> subscriber_state_;
  SubscriptionHandler subscription_;
  std::map<char, ChannelHandler> channels_;
  std::map<std::string, NamedChannelHandler, std::less<>> named_channels_;
  std::vector<RoomHandler> room_dropped_;
  std::optional<Strand> strand_;  // from start()
  std::unique_ptr<RedisConnection> commands_;
  std::unique_ptr<RedisConnection> subscriber_;
  std::optional<ClusterTopology::Options> topology_options_;
  std::unique_ptr<ClusterRouter> router_;  // with topology_options_, from start()
  std::optional<SentinelResolver::Options> sentinel_options_;
  std::unique_ptr<SentinelResolver> sentinel_;              // with sentinel_options_, on the strand
  std::unique_ptr<boost::asio::steady_timer> master_check_;  // the same
  bool master_lost_posted_ = false;                          // on the strand
  std::atomic<bool> commands_up_{false};
  std::atomic<bool> subscriber_up_{false};
  // On the strand: the scripts are being loaded again after a NOSCRIPT; what is asked meanwhile
  // waits here, in order.
  bool reloading_ = false;
  std::vector<std::function<void()>> waiting_;
};

}  // namespace switchboard::cluster
