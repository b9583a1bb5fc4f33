// The node's link to Redis against a real redis-server: its scripts are called by EVALSHA, and
// a Redis that lost them (SCRIPT FLUSH) gets them again with every call run once, in order; a
// call's WAIT (--redis-wait-replicas) follows its script on the same connection.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <thread>

#include "RedisServer.h"
#include "redis/RedisLink.h"
#include "redis/RedisScript.h"

using namespace switchboard;
using namespace switchboard::cluster;
using switchboard::test::RedisServer;

namespace {

// Appends ARGV[1] to the list KEYS[1]; returns the list's length.
constexpr const char* kAppendText = "return redis.call('RPUSH', KEYS[1], ARGV[1])";
const RedisScript kAppend("append", kAppendText);

// A link on its own event loop thread, connected to `redis`.
class LinkOnLoop {
 public:
  explicit LinkOnLoop(const RedisServer& redis) : link_(RedisAddress::parse(redis.url()), "t:", RedisTiming{}) {
    link_.use(kAppend);
    link_.on_commands_state([this](bool is_up, const RedisLink::Serves&) {
      if (is_up && !told_up_) {
        told_up_ = true;
        up_.set_value();
      }
    });
    link_.start(ioc_);
    thread_ = std::thread([this] { ioc_.run(); });
    if (up_.get_future().wait_for(std::chrono::seconds(10)) != std::future_status::ready)
      throw std::runtime_error("the link never connected");
  }
  ~LinkOnLoop() {
    link_.stop();
    work_.reset();
    ioc_.stop();
    thread_.join();
  }
  RedisLink& link() { return link_; }
  // Runs `f` on the link's strand and waits for it.
  void on_strand(std::function<void()> f) {
    std::promise<void> done;
    boost::asio::post(link_.strand(), [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{ioc_.get_executor()};
  RedisLink link_;
  std::promise<void> up_;
  bool told_up_ = false;  // on the strand
  std::thread thread_;
};

std::shared_ptr<RedisLink::ScriptCall> append_call(std::string value) {
  auto call = std::make_shared<RedisLink::ScriptCall>();
  call->keys = {"t:list"};
  call->args = {std::move(value)};
  return call;
}

// What a script call with a wait heard: the script's answer, then the WAIT's (-1: none, or not
// an integer), in the order they came.
struct Waited {
  std::vector<long long> answers;
  std::promise<void> waited;
};

long long integer_of(redisReply* reply) {
  return reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
}

// Runs the append script with a wait of `replicas`; returns once the WAIT answered and every
// answer asked for before a PING sent after it came (a WAIT answer heard twice would show).
std::vector<long long> append_and_wait(LinkOnLoop& loop, const std::string& value, unsigned replicas,
                                       std::chrono::milliseconds timeout) {
  auto heard = std::make_shared<Waited>();
  loop.on_strand([&] {
    auto call = append_call(value);
    call->wait = ScriptCall::Wait{replicas, timeout};
    ASSERT_TRUE(loop.link().run(
        kAppend, call, [heard](redisReply* reply) { heard->answers.push_back(integer_of(reply)); },
        [heard](redisReply* reply) {
          heard->answers.push_back(integer_of(reply));
          heard->waited.set_value();
        }));
  });
  if (heard->waited.get_future().wait_for(std::chrono::seconds(10)) != std::future_status::ready)
    throw std::runtime_error("the WAIT was not answered");
  std::promise<void> pinged;
  loop.on_strand([&] { loop.link().barrier([&](bool) { pinged.set_value(); }); });
  pinged.get_future().wait();
  std::vector<long long> answers;
  loop.on_strand([&] { answers = heard->answers; });
  return answers;
}

// Polls (10 s at most) until the replica's link to its master is up.
void await_replica(const RedisServer& replica) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (replica.cli("INFO replication").find("master_link_status:up") == std::string::npos) {
    if (std::chrono::steady_clock::now() > until) throw std::runtime_error("the replica never synced");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

// A script call's WAIT goes right behind it, on the command connection: it counts the replica
// that has the script's write, and none while that replica hangs. After SCRIPT FLUSH the call
// and its WAIT go again together, and only the second WAIT's answer is heard.
TEST(RedisLink, AScriptsWaitCountsTheReplicasThatHaveItsWrites) {
  RedisServer redis;
  RedisServer replica;
  redis.cli("CONFIG SET repl-diskless-sync-delay 0");  // the replica syncs at once,
  replica.cli("CONFIG SET repl-diskless-load on-empty-db");  // from the socket, writing no file
  replica.cli("REPLICAOF 127.0.0.1 " + std::to_string(redis.port()));
  await_replica(replica);
  LinkOnLoop loop(redis);
  EXPECT_EQ(append_and_wait(loop, "a", 1, std::chrono::seconds(5)), (std::vector<long long>{1, 1}));

  redis.cli("SCRIPT FLUSH");
  redis.cli("CONFIG RESETSTAT");
  EXPECT_EQ(append_and_wait(loop, "b", 1, std::chrono::seconds(5)), (std::vector<long long>{2, 1}));
  // The WAIT behind the refused script was sent, and its answer dropped.
  EXPECT_NE(redis.cli("INFO commandstats").find("cmdstat_wait:calls=2,"), std::string::npos);
  EXPECT_NE(redis.cli("INFO commandstats").find("cmdstat_evalsha:calls=2,"), std::string::npos);

  replica.pause();
  EXPECT_EQ(append_and_wait(loop, "c", 1, std::chrono::milliseconds(100)), (std::vector<long long>{3, 0}));
  replica.resume();
  EXPECT_EQ(redis.cli("LRANGE t:list 0 -1"), "a\nb\nc\n");
}

TEST(RedisLink, ScriptsAreLoadedOnceAndCalledBySha) {
  RedisServer redis;
  LinkOnLoop loop(redis);
  EXPECT_EQ(redis.cli("SCRIPT EXISTS " + loop.link().digest_of(kAppend)), "1\n");
  std::promise<long long> length;
  loop.on_strand([&] {
    ASSERT_TRUE(loop.link().run(kAppend, append_call("a"), [&](redisReply* reply) {
      length.set_value(reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1);
    }));
  });
  EXPECT_EQ(length.get_future().get(), 1);
  EXPECT_NE(redis.cli("INFO commandstats").find("cmdstat_evalsha:calls=1,"), std::string::npos);
  EXPECT_EQ(redis.cli("INFO commandstats").find("cmdstat_eval:"), std::string::npos);
}

// The calls that find no script are sent again in the order they were made, and a call made
// meanwhile (here from a reply that comes between two of their answers) waits behind them.
TEST(RedisLink, CallsThatFoundNoScriptRunOnceInTheOrderTheyWereMade) {
  RedisServer redis;
  LinkOnLoop loop(redis);
  std::promise<void> all_done;
  int answered = 0;
  auto count = [&](redisReply* reply) {
    EXPECT_TRUE(reply && reply->type == REDIS_REPLY_INTEGER) << (reply && reply->type == REDIS_REPLY_ERROR ? reply->str : "");
    if (++answered == 5) all_done.set_value();
  };
  loop.on_strand([&] {
    RedisLink& link = loop.link();
    ASSERT_TRUE(link.run(kAppend, append_call("1"), count));
    ASSERT_TRUE(link.command({"SCRIPT", "FLUSH"}, [](redisReply*) {}));
    ASSERT_TRUE(link.run(kAppend, append_call("2"), count));  // NOSCRIPT: the link loads the scripts
    ASSERT_TRUE(link.command({"PING"}, [&](redisReply*) {
      // Between the answers to 2 and 3, both refused: this one must run after 3.
      ASSERT_TRUE(link.run(kAppend, append_call("4"), count));
    }));
    ASSERT_TRUE(link.run(kAppend, append_call("3"), count));  // NOSCRIPT too
    ASSERT_TRUE(link.run(kAppend, append_call("5"), count));  // NOSCRIPT too
  });
  ASSERT_EQ(all_done.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(redis.cli("LRANGE t:list 0 -1"), "1\n2\n3\n5\n4\n");
}

// Nodes share Redis's script cache, not their scripts: another node's SCRIPT LOAD after a SCRIPT
// FLUSH brings back none of this node's, so a call of this node in flight behind one refused with
// NOSCRIPT is refused too (and sent again in its order) rather than run ahead of it.
TEST(RedisLink, EachLinkCallsItsOwnCopyOfAScript) {
  RedisServer redis;
  LinkOnLoop a(redis);
  LinkOnLoop b(redis);
  const std::string a_digest = a.link().digest_of(kAppend);
  const std::string b_digest = b.link().digest_of(kAppend);
  EXPECT_NE(a_digest, b_digest);
  EXPECT_NE(a_digest, kAppend.sha());
  redis.cli("SCRIPT FLUSH");
  std::promise<long long> length;
  b.on_strand([&] {
    ASSERT_TRUE(b.link().run(kAppend, append_call("b"), [&](redisReply* reply) {  // NOSCRIPT: b loads its own
      length.set_value(reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1);
    }));
  });
  EXPECT_EQ(length.get_future().get(), 1);
  EXPECT_EQ(redis.cli("SCRIPT EXISTS " + b_digest), "1\n");
  EXPECT_EQ(redis.cli("SCRIPT EXISTS " + a_digest), "0\n");
}
