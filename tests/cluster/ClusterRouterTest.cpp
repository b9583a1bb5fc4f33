// A node's routing over a real Redis Cluster: scripts and commands reach the master of their
// slot on every master, in order per slot; a master that lost the scripts gets them again; a
// slot that moved (-MOVED), a slot half migrated (-ASK), a master killed and replaced; sharded
// subscriptions on every master, followed when their slot moves.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <future>
#include <set>

#include "LoopThread.h"
#include "RedisClusterProcess.h"
#include "redis/ClusterRouter.h"
#include "redis/HashSlot.h"

using namespace switchboard::cluster;
using switchboard::test::RedisClusterProcess;
using namespace std::chrono_literals;

namespace {

// INCRs KEYS[1] and returns its new value.
const RedisScript kIncr("incr", "return redis.call('INCR', KEYS[1])");

struct Event {
  std::string what;  // "subscribed", "lost", "message"
  std::string channel;
  std::string body;
};

// What a call got back, as plain data.
struct Answer {
  bool none = false;  // nullptr
  long long integer = 0;
  std::string error;
};

// A router on its own event loop thread.
class RouterOnLoop {
 public:
  // `period`: how often the layout is read again unasked.
  explicit RouterOnLoop(const RedisClusterProcess& cluster, std::size_t seed = 0,
                        std::chrono::milliseconds period = 5000ms)
      : router_(loop_.strand(), options(cluster, seed, period), "test") {
    on_strand([this] {
      router_.use(kIncr);
      router_.start(
          [this](std::string_view channel, std::string_view body) {
            record({"message", std::string(channel), std::string(body)});
          },
          [this](const std::string& channel, ClusterRouter::Subscription state) {
            using S = ClusterRouter::Subscription;
            record({state == S::subscribed ? "subscribed" : state == S::lost ? "lost" : "unsubscribed", channel, ""});
          });
    });
  }
  ~RouterOnLoop() {
    on_strand([this] { router_.stop(); });
    loop_.stop();
  }
  static ClusterTopology::Options options(const RedisClusterProcess& cluster, std::size_t seed,
                                          std::chrono::milliseconds period) {
    ClusterTopology::Options o;
    o.period = period;
    o.seeds.push_back(RedisAddress::parse(cluster.url(seed)));
    o.timing.connect_timeout = 500ms;
    o.timing.reply_timeout = 2000ms;
    o.timing.backoff_max = 200ms;
    return o;
  }
  void on_strand(const std::function<void()>& f) { loop_.on_strand(f); }
  bool ready() { return router_.ready(); }
  // Waits (10 s at most) for the router to be ready.
  void await_ready() {
    auto until = std::chrono::steady_clock::now() + 10s;
    while (!ready()) {
      if (std::chrono::steady_clock::now() > until) throw std::runtime_error("the router is not ready within 10 s");
      events_.wait_a_little(20ms);
    }
  }
  // Runs the INCR script on `key` `n` times, all asked at once; their answers, in the order they came.
  std::vector<Answer> incr(const std::string& key, int n = 1) {
    auto answers = std::make_shared<std::vector<Answer>>();
    std::promise<void> all;
    on_strand([&] {
      for (int i = 0; i < n; ++i)
        router_.run(kIncr, std::make_shared<ScriptCall>(ScriptCall{{key}, {}, {}, {}}),
                    [answers, n, &all](redisReply* reply) {
                      answers->push_back(answer_of(reply));
                      if (static_cast<int>(answers->size()) == n) all.set_value();
                    });
    });
    if (all.get_future().wait_for(15s) != std::future_status::ready) throw std::runtime_error("calls unanswered");
    return *answers;
  }
  // Runs the INCR script on `key` with a wait (ScriptCall::wait): the script's answer, then the
  // WAIT's, in the order they came.
  std::vector<Answer> incr_and_wait(const std::string& key, unsigned replicas,
                                    std::chrono::milliseconds timeout) {
    auto answers = std::make_shared<std::vector<Answer>>();
    std::promise<void> waited;
    on_strand([&] {
      auto call =
          std::make_shared<ScriptCall>(ScriptCall{{key}, {}, {}, ScriptCall::Wait{replicas, timeout}});
      router_.run(
          kIncr, call, [answers](redisReply* reply) { answers->push_back(answer_of(reply)); },
          [answers, &waited](redisReply* reply) {
            answers->push_back(answer_of(reply));
            waited.set_value();
          });
    });
    if (waited.get_future().wait_for(15s) != std::future_status::ready)
      throw std::runtime_error("WAIT unanswered");
    barrier();  // a WAIT's answer that came late would show up in `answers` by now
    std::vector<Answer> out;
    on_strand([&] { out = *answers; });
    return out;
  }
  static Answer answer_of(redisReply* reply) {
    Answer a;
    if (!reply)
      a.none = true;
    else if (reply->type == REDIS_REPLY_INTEGER)
      a.integer = reply->integer;
    else if (reply->type == REDIS_REPLY_ERROR)
      a.error.assign(reply->str, reply->len);
    return a;
  }
  // INCR until one succeeds (10 s at most): what a client retrying a refused publish does.
  long long incr_until_done(const std::string& key) {
    auto until = std::chrono::steady_clock::now() + 10s;
    for (;;) {
      Answer a = incr(key).front();
      if (!a.none && a.error.empty()) return a.integer;
      if (std::chrono::steady_clock::now() > until) throw std::runtime_error("no call succeeded within 10 s: " + a.error);
      events_.wait_a_little(50ms);
    }
  }
  void subscribe(const std::string& channel) {
    on_strand([&] { router_.subscribe(channel); });
  }
  void unsubscribe(const std::string& channel) {
    on_strand([&] { router_.unsubscribe(channel); });
  }
  // Waits for a barrier asked for now (10 s at most).
  void barrier() {
    std::promise<void> reached;
    on_strand([&] { router_.barrier([&] { reached.set_value(); }); });
    if (reached.get_future().wait_for(10s) != std::future_status::ready) throw std::runtime_error("barrier not reached");
  }
  // Asks for INCRs without waiting for them.
  void incr_async(const std::string& key, int n, std::shared_ptr<std::vector<long long>> answers) {
    on_strand([&] {
      for (int i = 0; i < n; ++i)
        router_.run(kIncr, std::make_shared<ScriptCall>(ScriptCall{{key}, {}, {}, {}}),
                    [answers](redisReply* reply) {
                      answers->push_back(reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1);
                    });
    });
  }
  Event next(const std::string& what) {
    return events_.next([&](const Event& e) { return e.what == what; });
  }

 private:
  void record(Event e) { events_.add(std::move(e)); }

  switchboard::test::LoopThread loop_;
  ClusterRouter router_;
  switchboard::test::Reports<Event> events_;
};

// A name, tagged as "{room-N}", whose slot the given node serves.
std::string room_on(const RedisClusterProcess& cluster, std::size_t node, int from = 0) {
  for (int i = from;; ++i) {
    std::string name = "room-" + std::to_string(i);
    if (cluster.master_of(HashSlot::of(name)) == node) return name;
  }
}

std::string id_of(const RedisClusterProcess& cluster, std::size_t node) {
  std::string out = cluster.cli(node, "CLUSTER MYID");
  return out.substr(0, out.find('\n'));
}

// Moves an empty slot from its master to `to`.
void move_slot(RedisClusterProcess& cluster, int slot, std::size_t to) {
  std::size_t from = cluster.master_of(slot);
  std::string s = std::to_string(slot);
  cluster.cli(to, "CLUSTER SETSLOT " + s + " IMPORTING " + id_of(cluster, from));
  cluster.cli(from, "CLUSTER SETSLOT " + s + " MIGRATING " + id_of(cluster, to));
  cluster.cli(to, "CLUSTER SETSLOT " + s + " NODE " + id_of(cluster, to));
  cluster.cli(from, "CLUSTER SETSLOT " + s + " NODE " + id_of(cluster, to));
}

}  // namespace

class ClusterRouterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = new RedisClusterProcess({.masters = 3}); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  static RedisClusterProcess* cluster_;
};
RedisClusterProcess* ClusterRouterTest::cluster_ = nullptr;

TEST_F(ClusterRouterTest, ScriptsReachEveryMasterInOrderPerSlot) {
  RouterOnLoop router(*cluster_);
  router.await_ready();
  for (std::size_t node = 0; node < 3; ++node) {
    std::string key = "{" + room_on(*cluster_, node, 100) + "}:counter";
    std::vector<Answer> answers = router.incr(key, 200);
    ASSERT_EQ(answers.size(), 200u);
    for (int i = 0; i < 200; ++i) EXPECT_EQ(answers[i].integer, i + 1) << key << " " << answers[i].error;
    EXPECT_EQ(cluster_->cli(node, "GET " + key), "200\n");
  }
}

TEST_F(ClusterRouterTest, ABarrierWaitsForEveryCallAskedBefore) {
  RouterOnLoop router(*cluster_);
  router.await_ready();
  auto answers = std::make_shared<std::vector<long long>>();
  for (std::size_t node = 0; node < 3; ++node) router.incr_async("{" + room_on(*cluster_, node, 600) + "}:n", 50, answers);
  router.barrier();
  std::size_t seen = 0;
  router.on_strand([&] { seen = answers->size(); });
  EXPECT_EQ(seen, 150u);
  router.barrier();  // with nothing in flight
}

TEST_F(ClusterRouterTest, UnsubscribingIsConfirmedAndStopsMessages) {
  RouterOnLoop router(*cluster_);
  router.await_ready();
  std::string channel = "ch:{" + room_on(*cluster_, 1, 700) + "}";
  router.subscribe(channel);
  router.next("subscribed");
  router.unsubscribe(channel);
  EXPECT_EQ(router.next("unsubscribed").channel, channel);
  EXPECT_EQ(cluster_->cli(1, "SPUBLISH " + channel + " x"), "0\n");
  EXPECT_TRUE(router.ready());
}

TEST_F(ClusterRouterTest, AMasterThatLostTheScriptsGetsThemAgain) {
  RouterOnLoop router(*cluster_);
  router.await_ready();
  std::string key = "{" + room_on(*cluster_, 1, 200) + "}:counter";
  EXPECT_EQ(router.incr(key).front().integer, 1);
  cluster_->cli(1, "SCRIPT FLUSH");
  std::vector<Answer> answers = router.incr(key, 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(answers[i].integer, i + 2) << answers[i].error;
}

TEST_F(ClusterRouterTest, FollowsASlotThatMovedAndItsSubscriptions) {
  RouterOnLoop router(*cluster_);
  router.await_ready();
  // A subscription on every master.
  std::vector<std::string> rooms;
  for (std::size_t node = 0; node < 3; ++node) rooms.push_back(room_on(*cluster_, node, 300));
  for (auto& room : rooms) router.subscribe("ch:{" + room + "}");
  std::set<std::string> confirmed;
  for (int i = 0; i < 3; ++i) confirmed.insert(router.next("subscribed").channel);
  EXPECT_EQ(confirmed.size(), 3u);
  for (std::size_t node = 0; node < 3; ++node) {
    EXPECT_EQ(cluster_->cli(node, "SPUBLISH ch:{" + rooms[node] + "} hello"), "1\n");
    EXPECT_EQ(router.next("message").channel, "ch:{" + rooms[node] + "}");
  }

  // rooms[0]'s slot moves to node 2: its subscription ends there and is made at node 2; the
  // next call is redirected (-MOVED) and lands at node 2.
  int slot = HashSlot::of(rooms[0]);
  move_slot(*cluster_, slot, 2);
  EXPECT_EQ(router.next("lost").channel, "ch:{" + rooms[0] + "}");
  EXPECT_EQ(router.next("subscribed").channel, "ch:{" + rooms[0] + "}");
  EXPECT_EQ(cluster_->cli(2, "SPUBLISH ch:{" + rooms[0] + "} moved"), "1\n");
  Event m = router.next("message");
  EXPECT_EQ(m.channel + " " + m.body, "ch:{" + rooms[0] + "} moved");
  std::string key = "{" + rooms[0] + "}:counter";
  EXPECT_EQ(router.incr(key).front().integer, 1);
  EXPECT_EQ(cluster_->cli(2, "GET " + key), "1\n");
  move_slot(*cluster_, slot, 0);  // as it was, for the next tests
  cluster_->await_healthy();
}

TEST_F(ClusterRouterTest, ACallToAHalfMigratedSlotFollowsAsk) {
  RouterOnLoop router(*cluster_);
  router.await_ready();
  std::string room = room_on(*cluster_, 0, 400);
  std::string key = "{" + room + "}:counter";
  EXPECT_EQ(router.incr(key).front().integer, 1);
  // The slot migrates from node 0 to node 1, and the key has already gone: node 0 answers -ASK.
  int slot = HashSlot::of(room);
  std::string s = std::to_string(slot);
  cluster_->cli(1, "CLUSTER SETSLOT " + s + " IMPORTING " + id_of(*cluster_, 0));
  cluster_->cli(0, "CLUSTER SETSLOT " + s + " MIGRATING " + id_of(*cluster_, 1));
  cluster_->cli(0, "MIGRATE 127.0.0.1 " + std::to_string(cluster_->port(1)) + " " + key + " 0 5000");
  EXPECT_EQ(router.incr(key).front().integer, 2);
  // The migration ends; the map learns it from the next -MOVED.
  cluster_->cli(1, "CLUSTER SETSLOT " + s + " NODE " + id_of(*cluster_, 1));
  cluster_->cli(0, "CLUSTER SETSLOT " + s + " NODE " + id_of(*cluster_, 1));
  EXPECT_EQ(router.incr(key).front().integer, 3);
  move_slot(*cluster_, slot, 0);
  cluster_->cli(0, "DEL " + key);
  cluster_->cli(1, "DEL " + key);
  cluster_->await_healthy();
}

// A call with a wait whose master lost the script, then whose slot moved: its unit (EVALSHA,
// WAIT) is sent again whole after NOSCRIPT; after the move it goes to the old master, which
// answers -MOVED, then again whole to the new one; the WAIT's answer the call hears is the new
// master's, the one that ran the script. (The old master refuses WAIT here, so that its answer
// would show.)
TEST_F(ClusterRouterTest, AWaitIsAnsweredByTheMasterThatRanTheScript) {
  RouterOnLoop router(*cluster_, 0, 10min);  // the layout is read again only when a call finds it stale
  router.await_ready();
  std::string room = room_on(*cluster_, 0, 800);
  std::string key = "{" + room + "}:counter";
  std::vector<Answer> first = router.incr_and_wait(key, 0, 1000ms);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].integer, 1) << first[0].error;
  EXPECT_TRUE(first[1].error.empty() && !first[1].none) << first[1].error;  // WAIT 0: no replica asked for
  // A master that lost the script: the unit goes again whole, and its WAIT is heard once.
  cluster_->cli(0, "SCRIPT FLUSH");
  std::vector<Answer> again = router.incr_and_wait(key, 0, 1000ms);
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].integer, 2) << again[0].error;
  EXPECT_TRUE(again[1].error.empty() && !again[1].none) << again[1].error;
  int slot = HashSlot::of(room);
  cluster_->cli(0, "DEL " + key);
  move_slot(*cluster_, slot, 2);
  cluster_->cli(0, "ACL SETUSER default -wait");
  cluster_->cli(0, "CONFIG RESETSTAT");
  std::vector<Answer> moved = router.incr_and_wait(key, 0, 1000ms);
  cluster_->cli(0, "ACL SETUSER default +@all");
  ASSERT_EQ(moved.size(), 2u);
  EXPECT_EQ(moved[0].integer, 1) << moved[0].error;
  EXPECT_FALSE(moved[1].none);
  EXPECT_EQ(moved[1].error, "");  // not the old master's refusal
  EXPECT_EQ(moved[1].integer, 0);
  EXPECT_EQ(cluster_->cli(2, "GET " + key), "1\n");
  // The old master did get (and refuse) the WAIT behind the script it redirected.
  std::string stats = cluster_->cli(0, "INFO commandstats");
  auto at = stats.find("cmdstat_wait:");
  ASSERT_NE(at, std::string::npos) << stats;
  std::string wait_stats = stats.substr(at, stats.find('\n', at) - at);
  EXPECT_TRUE(wait_stats.starts_with("cmdstat_wait:calls=0,")) << wait_stats;
  EXPECT_NE(wait_stats.find("rejected_calls=1,"), std::string::npos) << wait_stats;
  move_slot(*cluster_, slot, 0);  // as it was, for the next tests
  cluster_->cli(2, "DEL " + key);
  cluster_->await_healthy();
}

// Sharded pub/sub needs Redis 7: a master is used once COMMAND INFO SPUBLISH shows it knows the
// command. Redis 6 answers it as Redis 7 answers a command it does not know (a nil entry).
TEST_F(ClusterRouterTest, AMasterMustKnowShardedPubSub) {
  redisContext* c = redisConnect("127.0.0.1", cluster_->port(0));
  ASSERT_TRUE(c && !c->err);
  auto ask = [c](const char* command) {
    return std::unique_ptr<redisReply, void (*)(void*)>(static_cast<redisReply*>(redisCommand(c, command)),
                                                        freeReplyObject);
  };
  auto known = ask("COMMAND INFO SPUBLISH");
  EXPECT_TRUE(ShardLink::knows_sharded_pubsub(known.get()));
  auto unknown = ask("COMMAND INFO NOSUCHCOMMAND");  // Redis 6's answer for SPUBLISH
  ASSERT_TRUE(unknown && unknown->type == REDIS_REPLY_ARRAY && unknown->elements == 1);
  EXPECT_FALSE(ShardLink::knows_sharded_pubsub(unknown.get()));
  // A Redis whose COMMAND is renamed away (or refused by ACL): it does not tell, taken for yes.
  auto no_command = ask("NOSUCHCOMMAND INFO SPUBLISH");
  ASSERT_TRUE(no_command && no_command->type == REDIS_REPLY_ERROR);
  EXPECT_TRUE(ShardLink::knows_sharded_pubsub(no_command.get()));
  EXPECT_FALSE(ShardLink::knows_sharded_pubsub(nullptr));
  redisFree(c);
}

TEST(ClusterRouterFailover, FollowsAReplicaThatTookOverAndSubscribesThere) {
  RedisClusterProcess cluster({.masters = 3, .replicas = 1, .require_full_coverage = false});
  RouterOnLoop router(cluster);
  router.await_ready();
  std::string room = room_on(cluster, 0, 500);
  std::string key = "{" + room + "}:counter", channel = "ch:{" + room + "}";
  router.subscribe(channel);
  router.next("subscribed");
  EXPECT_EQ(router.incr(key).front().integer, 1);
  cluster.kill_master_of(HashSlot::of(room));
  EXPECT_EQ(router.next("lost").channel, channel);
  // 2, or 1 if the replica had not yet received the first write (replication is asynchronous).
  EXPECT_GE(router.incr_until_done(key), 1);
  EXPECT_EQ(router.next("subscribed").channel, channel);
  std::size_t promoted = cluster.master_of(HashSlot::of(room));
  EXPECT_EQ(cluster.cli(promoted, "SPUBLISH " + channel + " after"), "1\n");
  EXPECT_EQ(router.next("message").body, "after");
  router.await_ready();
}
