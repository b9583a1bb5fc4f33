#pragma once
// A node's link to one master of a Redis Cluster: a command connection (hiredis, on the node's
// Redis strand) that loads the node's scripts each time it comes up and calls them by EVALSHA,
// and a ShardSubscriber for the room channels of the master's slots.
//
// A call refused with NOSCRIPT (the master restarted with the connection kept, a replica just
// promoted that never had them, SCRIPT FLUSH) loads that script and is sent once more. Order is
// not this link's business: the ClusterRouter sends at most one call per slot at a time.
//
// The master must know sharded pub/sub (SPUBLISH, SSUBSCRIBE: Redis 7 or newer). Each time the
// command connection comes up, the link asks (COMMAND INFO SPUBLISH) and is usable — its
// connections count as up — only once the master said it does: an older master is logged and
// left unused (the rooms of its slots are unavailable), without a reconnect loop.
//
// A call with a wait (ScriptCall::wait) is sent as one unit, EVALSHA then WAIT, on the command
// connection: the WAIT counts the replicas that have the script's writes. After NOSCRIPT the
// unit goes again whole, and the answer of the WAIT behind the refused script is dropped.
//
// Everything on the strand; stop() before destroying while the event loop runs.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "redis/RedisConnection.h"
#include "redis/RedisScript.h"
#include "redis/ScriptCall.h"
#include "redis/ShardSubscriber.h"

namespace switchboard::cluster {

class ShardLink {
 public:
  using Strand = RedisConnection::Strand;
  using ReplyHandler = RedisConnection::ReplyHandler;
  using StateHandler = std::function<void(bool up)>;

  // `scripts` (the link's own copies) outlive it.
  ShardLink(Strand strand, RedisAddress address, RedisTiming timing, std::vector<const RedisScript*> scripts);
  ~ShardLink();
  ShardLink(const ShardLink&) = delete;
  ShardLink& operator=(const ShardLink&) = delete;

  void start(StateHandler on_commands, StateHandler on_subscriber, ShardSubscriber::PushHandler on_push);
  void stop();

  const RedisAddress& address() const { return address_; }
  // The command connection is up, at a master that knows sharded pub/sub.
  bool commands_up() const { return commands_.up() && usable_; }
  // Its command connection has not been up yet (a master just learnt), or has just come up
  // (again) and the master's answer about sharded pub/sub is on its way: calls wait for it.
  bool fresh() const { return !was_up_ || probing_; }
  bool subscriber_up() const { return subscriber_.up() && usable_; }
  // A COMMAND INFO SPUBLISH answer: the server knows SPUBLISH (Redis 6 answers a nil entry). An
  // error — COMMAND refused by ACL, or renamed away — does not tell, and is taken for yes.
  static bool knows_sharded_pubsub(const redisReply* reply);

  // EVALSHA of `script` with the call's keys and arguments; `asking`: preceded by ASKING (an
  // -ASK redirection). False, without calling a handler, when the connection is not up.
  // Otherwise `done` runs once with the script's answer and, with a wait, `waited` runs once
  // after it with the answer of the WAIT sent right behind that script (nullptr: lost).
  bool run(const RedisScript& script, std::shared_ptr<const ScriptCall> call, bool asking, ReplyHandler done,
           ReplyHandler waited = nullptr);
  bool command(const std::vector<std::string_view>& args, bool asking, ReplyHandler done);
  bool subscribe(std::string_view channel) { return subscriber_.subscribe(channel); }
  bool unsubscribe(std::string_view channel) { return subscriber_.unsubscribe(channel); }

 private:
  bool send_script(const RedisScript& script, std::shared_ptr<const ScriptCall> call, bool asking,
                   bool may_reload, ReplyHandler done, ReplyHandler waited);

  RedisAddress address_;
  std::vector<const RedisScript*> scripts_;
  RedisConnection commands_;
  ShardSubscriber subscriber_;
  bool was_up_ = false;
  bool probing_ = false;  // the COMMAND INFO SPUBLISH sent, not answered yet
  bool usable_ = false;  // up, and the master knows sharded pub/sub
};

}  // namespace switchboard::cluster
