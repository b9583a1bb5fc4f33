// The connection that holds a node's sharded subscriptions, against a real redis-server (7.0
// serves SSUBSCRIBE and SPUBLISH without cluster mode too): confirmations, messages, refusals
// matched to their channel, a connection killed or a Redis that hangs, and a stop under load;
// and against a real Redis Cluster: -MOVED from a node that does not serve the channel's slot,
// and the `sunsubscribe` a master sends when the slot moves to another.
#include <gtest/gtest.h>

#include <thread>

#include <hiredis/hiredis.h>

#include "LoopThread.h"
#include "RedisClusterProcess.h"
#include "RedisServer.h"
#include "redis/ShardSubscriber.h"

using namespace switchboard::cluster;
using switchboard::test::RedisClusterProcess;
using switchboard::test::RedisServer;
using Kind = ShardSubscriber::PushKind;

namespace {

// What the subscriber reported, as plain data, in order.
struct Event {
  std::string what;  // "up", "down", "subscribed", "unsubscribed", "message", "refused"
  std::string channel;
  std::string body;
};

// A subscriber on its own event loop thread; its reports wait in order for the test.
class SubscriberOnLoop {
 public:
  explicit SubscriberOnLoop(const std::string& url, RedisTiming timing = {})
      : subscriber_(loop_.strand(), RedisAddress::parse(url), "test", timing) {
    loop_.on_strand([this] {
      subscriber_.start([this](bool up) { reports_.add({up ? "up" : "down", "", ""}); },
                        [this](const ShardSubscriber::Push& p) {
                          static const char* names[] = {"subscribed", "unsubscribed", "message", "refused"};
                          reports_.add({names[static_cast<int>(p.kind)], std::string(p.channel), std::string(p.body)});
                        });
    });
  }
  ~SubscriberOnLoop() {
    loop_.on_strand([this] { subscriber_.stop(); });
    loop_.stop();
  }

  bool subscribe(const std::string& channel) {
    bool sent = false;
    loop_.on_strand([&] { sent = subscriber_.subscribe(channel); });
    return sent;
  }
  bool unsubscribe(const std::string& channel) {
    bool sent = false;
    loop_.on_strand([&] { sent = subscriber_.unsubscribe(channel); });
    return sent;
  }
  // The next report (10 s at most).
  Event next() { return reports_.next(); }
  // Skips reports until one of kind `what` (10 s at most in all).
  Event next(const std::string& what) {
    return reports_.next([&](const Event& e) { return e.what == what; });
  }

 private:
  switchboard::test::LoopThread loop_;
  ShardSubscriber subscriber_;
  switchboard::test::Reports<Event> reports_;
};

}  // namespace

TEST(ShardSubscriber, ConfirmsEachSubscriptionAndDeliversItsMessages) {
  RedisServer redis;
  SubscriberOnLoop sub(redis.url());
  EXPECT_EQ(sub.next().what, "up");
  ASSERT_TRUE(sub.subscribe("room:a"));
  ASSERT_TRUE(sub.subscribe("room:b"));
  Event a = sub.next(), b = sub.next();
  EXPECT_EQ(a.what + " " + a.channel, "subscribed room:a");
  EXPECT_EQ(b.what + " " + b.channel, "subscribed room:b");
  EXPECT_EQ(redis.cli("SPUBLISH room:b 'hello b'"), "1\n");
  EXPECT_EQ(redis.cli("SPUBLISH room:a 'hello a'"), "1\n");
  Event m1 = sub.next(), m2 = sub.next();
  EXPECT_EQ(m1.what + " " + m1.channel + " " + m1.body, "message room:b hello b");
  EXPECT_EQ(m2.what + " " + m2.channel + " " + m2.body, "message room:a hello a");

  ASSERT_TRUE(sub.unsubscribe("room:a"));
  Event u = sub.next();
  EXPECT_EQ(u.what + " " + u.channel, "unsubscribed room:a");
  EXPECT_EQ(redis.cli("SPUBLISH room:a gone"), "0\n");
  EXPECT_EQ(redis.cli("SPUBLISH room:b kept"), "1\n");
  EXPECT_EQ(sub.next().body, "kept");
}

TEST(ShardSubscriber, CarriesBinaryMessagesWhole) {
  RedisServer redis;
  SubscriberOnLoop sub(redis.url());
  sub.next("up");
  ASSERT_TRUE(sub.subscribe("bin"));
  sub.next("subscribed");
  // A body with CR LF, a NUL and a RESP-looking start, larger than one read of the socket.
  std::string body = "*3\r\n$7\r\nmessage";
  body.push_back('\0');
  body += std::string(40000, 'x');
  std::thread publisher([&] {
    auto* c = redisConnect("127.0.0.1", redis.port());
    auto* r = static_cast<redisReply*>(redisCommand(c, "SPUBLISH bin %b", body.data(), body.size()));
    freeReplyObject(r);
    redisFree(c);
  });
  Event m = sub.next();
  publisher.join();
  EXPECT_EQ(m.what, "message");
  EXPECT_EQ(m.body, body);
}

TEST(ShardSubscriber, ARefusalNamesTheChannelItRefused) {
  RedisServer redis;
  // The default user may use only channels that start with "ok:".
  redis.cli("ACL SETUSER default resetchannels '&ok:*'");
  SubscriberOnLoop sub(redis.url());
  sub.next("up");
  ASSERT_TRUE(sub.subscribe("ok:1"));
  ASSERT_TRUE(sub.subscribe("forbidden"));
  ASSERT_TRUE(sub.subscribe("ok:2"));
  Event ok1 = sub.next(), refused = sub.next(), ok2 = sub.next();
  EXPECT_EQ(ok1.what + " " + ok1.channel, "subscribed ok:1");
  EXPECT_EQ(refused.what + " " + refused.channel, "refused forbidden");
  EXPECT_EQ(refused.body.substr(0, 6), "NOPERM") << refused.body;
  EXPECT_EQ(ok2.what + " " + ok2.channel, "subscribed ok:2");
}

TEST(ShardSubscriber, AKilledConnectionComesBackWithoutItsSubscriptions) {
  RedisServer redis;
  SubscriberOnLoop sub(redis.url());
  sub.next("up");
  ASSERT_TRUE(sub.subscribe("room:a"));
  sub.next("subscribed");
  redis.cli("CLIENT KILL TYPE pubsub");
  EXPECT_EQ(sub.next().what, "down");
  EXPECT_EQ(sub.next().what, "up");
  EXPECT_EQ(redis.cli("PUBSUB SHARDNUMSUB room:a"), "room:a\n0\n");
  ASSERT_TRUE(sub.subscribe("room:a"));
  sub.next("subscribed");
  EXPECT_EQ(redis.cli("SPUBLISH room:a again"), "1\n");
  EXPECT_EQ(sub.next().body, "again");
}

TEST(ShardSubscriber, ARedisThatHangsIsLeftAndFoundAgain) {
  RedisServer redis;
  RedisTiming quick;
  quick.reply_timeout = std::chrono::milliseconds(600);
  quick.connect_timeout = std::chrono::milliseconds(300);
  SubscriberOnLoop sub(redis.url(), quick);
  sub.next("up");
  ASSERT_TRUE(sub.subscribe("room:a"));
  sub.next("subscribed");
  // A quiet connection gets PINGs; one left unanswered drops it.
  redis.pause();
  EXPECT_EQ(sub.next().what, "down");
  redis.resume();
  // (A reconnect made while Redis was still paused may be dropped once more: wait for the
  // connection that takes the subscription.)
  do sub.next("up");
  while (!sub.subscribe("room:a"));
  sub.next("subscribed");
}

TEST(ShardSubscriber, AnAbsentRedisIsTriedAgainUntilItComes) {
  RedisServer redis;
  redis.stop();
  RedisTiming quick;
  quick.backoff_max = std::chrono::milliseconds(100);
  SubscriberOnLoop sub(redis.url(), quick);
  EXPECT_FALSE(sub.subscribe("room:a"));
  redis.start();
  EXPECT_EQ(sub.next().what, "up");
}

TEST(ShardSubscriber, StopsWhileMessagesPourIn) {
  RedisServer redis;
  auto sub = std::make_unique<SubscriberOnLoop>(redis.url());
  sub->next("up");
  ASSERT_TRUE(sub->subscribe("busy"));
  sub->next("subscribed");
  std::thread publisher([&] {
    auto* c = redisConnect("127.0.0.1", redis.port());
    for (int i = 0; i < 2000; ++i) redisAppendCommand(c, "SPUBLISH busy %d", i);
    for (int i = 0; i < 2000; ++i) {
      void* r = nullptr;
      if (redisGetReply(c, &r) != REDIS_OK) break;
      freeReplyObject(r);
    }
    redisFree(c);
  });
  sub->next("message");
  sub.reset();  // stops mid-stream: nothing leaks, nothing runs after
  publisher.join();
}

TEST(ShardSubscriber, InAClusterAChannelIsServedByItsSlotsMasterAndLeftWhenTheSlotMoves) {
  RedisClusterProcess cluster({.masters = 3});
  const std::string channel = "room:lobby";
  int slot = std::stoi(cluster.cli(0, "CLUSTER KEYSLOT " + channel));
  std::size_t owner = cluster.master_of(slot), other = (owner + 1) % 3;
  auto id = [&](std::size_t node) {
    std::string out = cluster.cli(node, "CLUSTER MYID");
    return out.substr(0, out.find('\n'));
  };

  SubscriberOnLoop wrong(cluster.url(other));
  wrong.next("up");
  ASSERT_TRUE(wrong.subscribe(channel));
  Event refused = wrong.next();
  EXPECT_EQ(refused.what + " " + refused.channel, "refused " + channel);
  EXPECT_EQ(refused.body, "MOVED " + std::to_string(slot) + " 127.0.0.1:" + std::to_string(cluster.port(owner)));

  SubscriberOnLoop sub(cluster.url(owner));
  sub.next("up");
  ASSERT_TRUE(sub.subscribe(channel));
  sub.next("subscribed");
  EXPECT_EQ(cluster.cli(owner, "SPUBLISH " + channel + " before"), "1\n");
  EXPECT_EQ(sub.next().body, "before");

  // The slot moves to another master (it holds no key: no MIGRATE needed).
  std::string s = std::to_string(slot);
  cluster.cli(other, "CLUSTER SETSLOT " + s + " IMPORTING " + id(owner));
  cluster.cli(owner, "CLUSTER SETSLOT " + s + " MIGRATING " + id(other));
  cluster.cli(other, "CLUSTER SETSLOT " + s + " NODE " + id(other));
  cluster.cli(owner, "CLUSTER SETSLOT " + s + " NODE " + id(other));
  Event left = sub.next();
  EXPECT_EQ(left.what + " " + left.channel, "unsubscribed " + channel);
  ASSERT_TRUE(sub.subscribe(channel));
  EXPECT_EQ(sub.next().body.substr(0, 6 + s.size()), "MOVED " + s);
}
