#pragma once
// How a node reaches a Redis Cluster: it keeps the cluster's layout (ClusterTopology), a
// ShardLink to every master, and sends each call and subscription where its slot lives.
//
// Calls (scripts and commands) are routed by the slot of their first key; every key of a call
// must share that slot (the room's hash tag sees to it). Per slot, one call is in flight at a
// time and the others wait in order behind it: a call redirected or retried therefore never
// overtakes the next one, and a room's writes keep their order across a slot's migration.
// Answers:
//  - `-MOVED slot host:port`: the map takes it, and the call goes there (5 redirections at most);
//  - `-ASK slot host:port`: the call goes there once, after ASKING; the map stays;
//  - `-TRYAGAIN` (a multi-key call while the slot's keys are half moved), or a master just learnt
//    whose connection is still being made: the call is sent again shortly, until the reply
//    timeout has passed since it was asked;
//  - no master for the slot, its connection down, `-CLUSTERDOWN`: the call fails now (`done`
//    gets nullptr, or the error) — no call waits across a failover — and the layout is read
//    again until it changes.
// A script call with a wait (ScriptCall::wait) goes as one unit, EVALSHA then WAIT, to one master
// on one connection (ShardLink::run): every time it is sent again, its WAIT goes again with it,
// and the answer of a WAIT behind a script that was sent again is dropped. Once the script's
// answer is final, `done` hears it and the call stays in flight until its WAIT answers
// (`waited`), so that the WAIT counts the replicas of the master that ran the script.
//
// Subscriptions: a wanted channel is subscribed (SSUBSCRIBE) on the master of its slot. The
// subscription handler hears `subscribed` when a master confirmed it, `unsubscribed` when the
// user's unsubscribe is done, and `lost` when a confirmed channel is not subscribed any more
// although still wanted — its master's subscriber connection went down, the server ended it
// (`sunsubscribe`: the slot moved, or the master was demoted), or the map moved its slot
// elsewhere. A lost channel is subscribed again, where its slot is then, by itself: what was
// published in between is the user's to read back from history. subscribe() and unsubscribe()
// may be called at any time, in any order; no handler runs from within them.
//
// Everything on the strand, handlers included, but ready() and masters_up(), which any thread
// may call; stop() before destroying while the loop runs.
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "redis/ClusterTopology.h"
#include "redis/RedisScript.h"
#include "redis/ScriptCall.h"
#include "redis/ShardLink.h"

namespace switchboard::cluster {

class ClusterRouter {
 public:
  using Strand = RedisConnection::Strand;
  using ReplyHandler = RedisConnection::ReplyHandler;
  using MessageHandler = std::function<void(std::string_view channel, std::string_view body)>;
  enum class Subscription {
    subscribed,    // a master confirmed it
    unsubscribed,  // as asked: the channel is forgotten
    lost,          // wanted still, but not subscribed now: it is being made again
  };
  using SubscriptionHandler = std::function<void(const std::string& channel, Subscription state)>;

  ClusterRouter(Strand strand, ClusterTopology::Options options, std::string name);
  ~ClusterRouter();
  ClusterRouter(const ClusterRouter&) = delete;
  ClusterRouter& operator=(const ClusterRouter&) = delete;

  // Before start(): a script every master loads (it outlives the router).
  void use(const RedisScript& script) { scripts_.push_back(&script); }
  // `on_master` hears of every master's command connection going up or down.
  void start(MessageHandler on_message, SubscriptionHandler on_subscription,
             std::function<void(bool up, const std::string& master)> on_master = nullptr);
  void stop();

  // `done` runs exactly once, nullptr when the call could not be made or its answer was lost.
  // With a wait, `waited` runs exactly once after it: the answer of the WAIT sent right behind
  // the script `done` heard of, on the same connection (nullptr: lost, or not sent).
  void run(const RedisScript& script, std::shared_ptr<const ScriptCall> call, ReplyHandler done,
           ReplyHandler waited = nullptr);
  // A command sent to the master of `route`'s slot (a key it acts on, or for a command without
  // keys such as WAIT, a key of the slot whose master it is meant for), in that slot's order.
  void command(std::vector<std::string> args, std::string_view route, ReplyHandler done);
  // `done` runs once every call asked for before has been answered.
  void barrier(std::function<void()> done);

  // `counted`: whether the node is ready only once the channel is subscribed (a room's); the
  // control channel's are not (a master down for them leaves the rooms' readiness alone).
  void subscribe(const std::string& channel, bool counted = true);
  void unsubscribe(const std::string& channel);

  // A master serves the key's slot and its command connection is up.
  bool available(std::string_view key) const;
  // Whether `master` (as on_master names it: host:port) serves `key`'s slot in the layout known
  // now.
  bool serves(const std::string& master, std::string_view key) const;
  // The layout is known and covers every slot, a master at least is reachable, and every wanted
  // channel is subscribed (a master that is down holds the node back only while it holds one of
  // its channels). Any thread.
  bool ready() const { return ready_; }
  // The number of masters whose command connection is up. Any thread.
  std::size_t masters_up() const { return masters_up_; }
  const ClusterTopology& topology() const { return topology_; }

 private:
  struct Call {
    const RedisScript* script = nullptr;  // null: a command (or a barrier's mark, without words)
    std::shared_ptr<const ScriptCall> call;  // a script's
    std::vector<std::string> words;          // a command's
    ReplyHandler done;                       // null once called (a call that waits for its WAIT's answer)
    ReplyHandler waited;                     // a script's with a wait
    std::uint64_t unit = 0;                  // with a wait: the last unit sent (units_)
    std::chrono::steady_clock::time_point deadline;
    unsigned redirects = 0;
    std::optional<SlotMap::Node> ask;  // the node an -ASK named, for the next send only
    std::chrono::milliseconds retry_delay{10};
  };
  struct SlotQueue {
    std::deque<Call> calls;
    bool in_flight = false;
    std::uint64_t waiting = 0;  // the unit whose WAIT the front call awaits (its script answered)
    std::unique_ptr<boost::asio::steady_timer> retry;  // while the front call waits to go again
  };
  struct Channel {
    bool wanted = false;
    std::string placed;  // the shard (key of shards_) it was sent to, or empty
    bool confirmed = false;
    bool counted = true;  // in unconfirmed_ while not confirmed
  };

  static std::string key_of(const SlotMap::Node& node) { return node.host + ":" + std::to_string(node.port); }

  ShardLink* link_for(const SlotMap::Node& node);
  void layout_changed(const SlotMap& map);
  void enqueue(int slot, Call call);
  void dispatch(int slot);
  void answered(int slot, redisReply* reply);
  void handle_answer(int slot, redisReply* reply);
  void tidy(int slot);
  void finish(int slot, redisReply* reply);
  void wait_answered(int slot, std::uint64_t unit, redisReply* reply);
  void retry_later(int slot);
  void on_push(const std::string& shard, const ShardSubscriber::Push& push);
  void subscriber_state(const std::string& shard, bool up);
  void place(const std::string& channel, Channel& ch);
  void place_all();
  void retry_placing();
  void lost(const std::string& channel, Channel& ch);
  void sweep();
  void update_ready();

  Strand strand_;
  std::string name_;
  RedisTiming timing_;
  ClusterTopology topology_;
  std::vector<const RedisScript*> scripts_;
  std::map<std::string, std::unique_ptr<ShardLink>> shards_;  // by "host:port" of their master
  std::unordered_map<int, SlotQueue> queues_;
  std::unordered_map<std::string, Channel> channels_;
  std::size_t unconfirmed_ = 0;  // wanted channels not confirmed
  int depth_ = 0;                // dispatch() and answers' handlers running
  std::uint64_t units_ = 0;      // script calls with a wait sent so far
  std::unique_ptr<boost::asio::steady_timer> placing_;  // a refused subscription: try again shortly
  MessageHandler on_message_;
  SubscriptionHandler on_subscription_;
  std::function<void(bool up, const std::string& master)> on_master_;
  bool stopped_ = false;
  std::atomic<bool> ready_{false};
  std::atomic<std::size_t> masters_up_{0};
};

}  // namespace switchboard::cluster
