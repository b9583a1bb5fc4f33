#pragma once
// One connection to one Redis server that holds a node's sharded subscriptions (SSUBSCRIBE):
// in a Redis Cluster, one per master, receiving the room channels of that master's slots.
//
// hiredis 0.14's asynchronous API cannot carry sharded pub/sub (it knows only SUBSCRIBE and
// PSUBSCRIBE: an `smessage`, or a `sunsubscribe` the server sends when a slot moves, reaches a
// command's callback or aborts the process). So this connection is our own: an Asio socket,
// commands written with hiredis's redisFormatCommandArgv and replies read with its redisReader.
//
// It connects (the host resolved asynchronously), sends AUTH when the address has a password,
// reconnects with capped exponential backoff and full jitter, and says when it goes up or down;
// once down, it holds no subscription: the user subscribes again when it is up. Redis answers
// in order, so a refusal (an error reply: -MOVED, -NOPERM…) is matched to the request it
// answers and reported with that request's channel. A PING goes out when the connection is
// quiet, and a request unanswered for the reply timeout drops the connection (a Redis that
// hangs, or a network that dropped without a reset).
//
// Every `unsubscribed` push means "not subscribed to this channel now", whether it answers the
// user's SUNSUBSCRIBE or the server sent it (the channel's slot moved to another master, or
// this server was demoted): whether to subscribe again, and where, is the user's decision.
//
// Everything but the constructor and the destructor must be called on the strand; handlers run
// on it. Call stop() on the strand before destroying it while the event loop runs.
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "redis/RedisConnection.h"
#include "switchboard/cluster/RedisAddress.h"
#include "switchboard/cluster/RedisTiming.h"

namespace switchboard::cluster {

class ShardSubscriber {
 public:
  using Strand = RedisConnection::Strand;

  enum class PushKind {
    subscribed,    // an SSUBSCRIBE confirmed
    unsubscribed,  // not subscribed now (see above)
    message,       // `body` is the message
    refused,       // an SSUBSCRIBE or SUNSUBSCRIBE refused: `body` is Redis's error
  };
  struct Push {
    PushKind kind;
    std::string_view channel;
    std::string_view body;
  };
  using PushHandler = std::function<void(const Push&)>;
  // true when the connection is up (AUTH sent), false when it went down.
  using StateHandler = std::function<void(bool up)>;

  ShardSubscriber(Strand strand, RedisAddress address, std::string name, RedisTiming timing);
  ~ShardSubscriber();
  ShardSubscriber(const ShardSubscriber&) = delete;
  ShardSubscriber& operator=(const ShardSubscriber&) = delete;

  void start(StateHandler on_state, PushHandler on_push);
  // Disconnects for good; no handler runs afterwards.
  void stop();
  // Drops the connection now and reconnects after the backoff.
  void reset(std::string_view why);
  bool up() const;
  const RedisAddress& address() const;

  // SSUBSCRIBE / SUNSUBSCRIBE one channel (Redis wants the channels of one command in one slot:
  // one per command keeps that true). False when the connection is not up.
  bool subscribe(std::string_view channel);
  bool unsubscribe(std::string_view channel);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace switchboard::cluster
