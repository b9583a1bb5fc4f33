#pragma once
// The broker of a cluster: Redis pub/sub, one channel per room ("<prefix>room:<name>"; on a Redis
// Cluster "<prefix>room:{<name>}", a sharded channel on the master of the room's slot, and the
// history keys below tagged the same way: RedisKeys names them all).
// What crosses a room's channel is one kind byte and the frame: 'm' for a message (then
// "<offset>:<epoch>:" before the frame), 'p' for a presence event (published by
// RedisPresenceStore's scripts). It works through the node's RedisLink, which it shares with the
// presence store: the link owns the connections, the strand and the scripts.
//
// History: a publish runs a Lua script that takes the room's next offset (a hash
// "<prefix>history:<room>" with the epoch and the latest offset), writes the push around it
// where protocol::message_offset_slot() says (the push with its offset, as with_offset writes
// it: what is stored and published is what subscribers receive), appends the push to the room's
// stream "<prefix>stream:<room>" (XADD with the offset as the entry id, MAXLEN ~ the room's
// history size), sets both keys' time to live and PUBLISHes it — atomically, so that offsets
// follow the order in which every node receives the messages. Nodes of the previous version
// (during a rolling restart) read and write the same stream entries and channel messages.
// Publishes made while the strand is busy wait in an outbox and go together: one script call
// per room numbers and publishes up to kMaxBatch of them, in order (there is no order between
// rooms to keep). Redis also writes them to each subscribed node together.
//
// A node subscribes to a room's channel when its first local subscriber joins and unsubscribes
// when the last one leaves (the room registry tells it). A publish's handler gets its offset once
// Redis has answered the script call, nullopt when Redis is unreachable.
// Every message, the publishing node's own included, comes back through the subscriber
// connection: each node receives it once and delivers it once to each local subscriber.
//
// Acks: with Acks::replicas > 0 (--redis-wait-replicas), each publish script call is followed on
// the same connection by WAIT replicas timeout; its messages are acked only when that many
// replicas have them, else their publishers hear unavailable (the messages may still have been
// delivered, and may be lost if the master fails over). Such waits are counted (stats()).
//
// Order: publishes from one connection go through one Redis connection in order, and Redis
// delivers a channel's messages to each subscriber in order.
//
// Catching up: Redis pub/sub drops what is published while the subscriber connection is down
// (or before the room's channel is subscribed again; on a Redis Cluster, while the room's master
// fails over or its slot moves: the link reports the room's subscription lost, then subscribed
// again where the slot lives). When a room the node delivered before is
// subscribed again, the broker reads the room's history after the last message it delivered —
// from the start of the new epoch when Redis restarted empty — and hands those first, then the
// messages that arrived meanwhile, in order and once each. What the history no longer holds is
// handed on as the room's new position without a message (the room registry announces it to
// the subscribers with recovered:false). The node answers ready once every room is subscribed
// again (GET /readyz).
//
// Threading: all Redis work runs on the link's strand; publish, subscribe and unsubscribe may be
// called from any thread and never block. start() starts the link, stop() stops it.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "redis/RedisBackoff.h"
#include "redis/RedisLink.h"
#include "switchboard/cluster/Broker.h"
#include "switchboard/cluster/HistoryPolicy.h"

namespace switchboard::cluster {

class RedisBroker final : public Broker {
 public:
  struct Acks {
    unsigned replicas = 0;  // 0: acked once the master ran the script
    std::chrono::milliseconds timeout{200};
  };
  // idempotency_window: how long a publish's idempotency key stays in Redis.
  RedisBroker(std::shared_ptr<RedisLink> link, HistoryPolicy history, Acks acks,
              std::chrono::milliseconds idempotency_window = kDefaultIdempotencyWindow);
  explicit RedisBroker(std::shared_ptr<RedisLink> link, HistoryPolicy history = {});
  ~RedisBroker() override;

  // The link's life: connects on start, disconnects on stop.
  void start(boost::asio::io_context& ioc) override;
  void stop() override;
  bool ready() const override;
  Stats stats() const override;

  // Messages and history: one script call each (a publish's may carry a batch).
  void set_deliver_handler(DeliverHandler handler) override;
  using Broker::publish;
  void publish(const std::string& room, protocol::Payload push, PublishHandler done,
               const std::string& idem) override;
  void history(const std::string& room, std::optional<std::uint64_t> after, std::size_t limit,
               HistoryHandler done) override;
  // The room channels, on the link's subscriber connection.
  void when_subscribed(const std::string& room, SubscribedHandler done) override;
  void subscribe(const std::string& room) override;
  void unsubscribe(const std::string& room) override;

 private:
  // Per room: what the node wants, and what the subscriber connection has been told. At most
  // one SUBSCRIBE or UNSUBSCRIBE of a channel is in flight; the next one waits for its answer
  // (hiredis keeps one callback per channel, and an UNSUBSCRIBE's answer removes it).
  struct Channel {
    bool wanted = false;
    bool subscribed = false;  // confirmed by Redis
    bool in_flight = false;
    bool resubscribing = false;  // counted in unconfirmed_
    struct Waiter {
      std::chrono::steady_clock::time_point deadline;
      SubscribedHandler done;
    };
    std::vector<Waiter> waiters;  // when_subscribed() calls waiting for the confirmation
    std::uint64_t id = 0;  // tells a reply for this channel from one for an earlier one of the room
    bool was_subscribed = false;  // confirmed before: a confirmation now is a resubscribe
    // The last message (or position) handed to the node.
    protocol::StreamPosition delivered;
    protocol::StreamPosition read_back;  // where the last catch-up's read of the history stood
    bool renumbering = false;  // a stale message's read (moving the numbering past `delivered`) is on its way
    // Reading back from history what pub/sub dropped: messages arriving meanwhile wait.
    bool catching_up = false;
    bool catch_up_sent = false;   // the read is under way
    bool catch_up_again = false;  // subscribed again meanwhile: read again after this one
    unsigned catch_up_tries = 0;
    struct Pending {
      std::uint64_t offset = 0;
      std::string epoch;
      protocol::Payload push;
    };
    std::vector<Pending> pending;
  };
  static void notify(Channel& ch, bool subscribed);
  // Waiters not confirmed by their deadline (the link's reply timeout) hear false: a client's
  // subscribe is refused (unavailable, retryable) rather than left unanswered while a Redis
  // Cluster's master fails over. On the strand.
  void arm_waiter_timer(std::chrono::steady_clock::time_point deadline);
  void expire_waiters();
  std::unique_ptr<boost::asio::steady_timer> waiter_timer_;  // on the strand, from the first waiter
  bool waiter_timer_armed_ = false;
  bool stopped_ = false;  // on the strand

  // A publish waiting for the strand. Those made while the strand is busy go to Redis together:
  // one script call per room carries up to kMaxBatch of them.
  struct Outgoing {
    std::string room;
    protocol::Payload push;
    PublishHandler done;
    std::string idem;  // the publisher's idempotency key, empty when none
  };
  static constexpr std::size_t kMaxBatch = 256;
  static constexpr std::size_t kMaxBatchBytes = 1 << 20;
  void send_outbox();
  void queue_publishes(std::vector<Outgoing> run);
  void next_publishes(const std::string& room);
  // With a Redis Cluster, per room with a batch on its way: the publishes waiting for it (on the
  // strand).
  std::unordered_map<std::string, std::deque<Outgoing>> publishing_;
  void add_mark(const std::string& room, std::vector<std::string>& args) const;
  void send_publishes(std::vector<Outgoing> run);
  // With --redis-wait-replicas: the handler of the WAIT behind a publish script, which acks the
  // batch (its offsets, once the script answered) or refuses it.
  RedisLink::ReplyHandler wait_for_replicas(
      std::shared_ptr<std::vector<Outgoing>> handlers,
      std::shared_ptr<std::optional<std::vector<std::uint64_t>>> offsets);

  void sync(const std::string& room);
  // On the strand: hands a message (null `push`: a position) to the node and notes it.
  void hand(const std::string& room, Channel& ch, const protocol::Payload& push, std::uint64_t offset,
            std::string_view epoch);
  void start_catch_up(const std::string& room, Channel& ch);
  void send_catch_up(const std::string& room, Channel& ch, std::optional<std::uint64_t> after);
  void finish_catch_up(const std::string& room, Channel& ch, const History& history);
  // On the strand: reads the room's history (the work of history()).
  void read_history(const std::string& room, std::optional<std::uint64_t> after, std::size_t limit,
                    HistoryHandler done);
  std::string new_epoch();
  void on_commands_state(bool up);
  void on_message(const std::string& room, std::string_view body);
  void on_subscription(const std::string& room, RedisLink::Subscription state);
  void on_subscriber_state(bool up);

  std::shared_ptr<RedisLink> link_;
  HistoryPolicy history_;
  Acks acks_;
  std::chrono::milliseconds idempotency_window_;
  // A publish script's answer for one message: its offset, nullopt when refused; a duplicate's
  // (negated by the script) is counted.
  std::optional<std::uint64_t> offset_of(const redisReply* reply);
  std::atomic<std::uint64_t> duplicate_publishes_{0};
  std::atomic<std::uint64_t> replica_waits_short_{0};
  std::atomic<std::uint64_t> stale_messages_{0};
  RedisBackoff wait_errors_logged_;  // on the strand: WAIT refused (an error answer), logged now and then
  std::string epoch_seed_;
  std::uint64_t epochs_made_ = 0;  // on the strand
  DeliverHandler deliver_;
  std::unordered_map<std::string, Channel> channels_;  // on the strand
  std::uint64_t channels_made_ = 0;                    // on the strand
  std::size_t catching_up_ = 0;                        // channels catching up (on the strand)
  struct CatchUpReport {  // summed over the rooms caught up since the last report
    std::size_t rooms = 0;
    std::size_t messages = 0;
    std::size_t rooms_announced = 0;
  } catch_up_report_;
  std::mutex outbox_mutex_;
  std::vector<Outgoing> outbox_;  // publishes not yet handed to the strand
  std::atomic<bool> resubscribed_{true};  // every wanted room confirmed since the subscriber came up
  std::atomic<std::uint64_t> reconnects_{0};
  bool commands_connected_before_ = false;    // on the strand
  bool subscriber_connected_before_ = false;  // on the strand
  std::size_t unconfirmed_ = 0;           // wanted rooms not yet confirmed since then (on the strand)
  void confirmed_one();
};

}  // namespace switchboard::cluster
