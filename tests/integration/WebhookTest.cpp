// Signed webhooks: the node's events reach a real receiver (tests/support/webhook_receiver.py,
// which checks each batch's HMAC-SHA256 with Python's own hmac module) in signed batches; a
// receiver that is down gets them once it is up; a slow one fills the bounded queue, whose drops
// are counted while the WebSocket clients get their messages; https with a test certificate.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>

#include "FreePort.h"
#include "RedisServer.h"
#include "ScratchDir.h"
#include "TestCert.h"
#include "TestNode.h"
#include "WebhookReceiver.h"
#include "WsClient.h"

namespace webhook_test {  // this suite's own names: the sanitizer builds compile suites together

using namespace switchboard;
using namespace switchboard::test;
using nlohmann::json;

namespace {

const std::string kSecret = "webhook-test-secret-0123456789";

server::Config hooked(const std::string& url, const std::string& events = "") {
  auto c = TestNode::default_config();
  c.webhook_urls = {url};
  c.webhook_secret = kSecret;
  c.webhook_events = events;
  return c;
}

std::string url_of(std::uint16_t port) { return "http://127.0.0.1:" + std::to_string(port) + "/hook"; }

// Every event of the batches the receiver gets until one of type `last` arrived; each batch verified.
std::vector<json> events_until(WebhookReceiver& receiver, const std::string& last, std::size_t* batches = nullptr) {
  std::vector<json> events;
  while (true) {
    json batch = receiver.next_report();
    EXPECT_TRUE(batch["verified"].get<bool>()) << batch.dump();
    if (batches) ++*batches;
    bool done = false;
    for (auto& e : batch["events"]) {
      done = done || e["type"] == last;
      events.push_back(e);
    }
    if (done) return events;
  }
}

json publish(WsClient& c, const std::string& room, const json& data) {
  return c.request({{"op", "publish"}, {"room", room}, {"data", data}});
}

}  // namespace

TEST(Webhooks, EveryKindOfEventArrivesSignedInOrder) {
  WebhookReceiver receiver({.secret = kSecret});
  TestNode node(hooked(receiver.url()));
  std::string user;
  std::uint64_t offset = 0;
  {
    WsClient alice(node.port());
    ASSERT_EQ(alice.request({{"op", "subscribe"}, {"room", "chat:lobby"}, {"presence", true}})["ok"], true);
    json ack = publish(alice, "chat:lobby", {{"text", "hi"}});
    ASSERT_TRUE(ack.contains("offset")) << ack.dump();
    offset = ack["offset"];
    alice.close();
  }
  auto events = events_until(receiver, "connection_closed");
  std::vector<std::string> types;
  std::set<std::string> ids;
  for (auto& e : events) {
    types.push_back(e["type"]);
    ids.insert(e["id"].get<std::string>());
    EXPECT_TRUE(e["time"].is_number_integer());
  }
  EXPECT_EQ(types, (std::vector<std::string>{"connection_opened", "room_occupied", "member_added", "message_published",
                                             "member_removed", "room_vacated", "connection_closed"}));
  EXPECT_EQ(ids.size(), events.size()) << "every event has an id of its own";
  ASSERT_EQ(events.size(), 7u);
  user = events[0]["user"];
  EXPECT_FALSE(user.empty());
  EXPECT_EQ(events[0]["connection"], events[6]["connection"]);
  EXPECT_EQ(events[1]["room"], "chat:lobby");
  EXPECT_EQ(events[2]["user"], user);
  EXPECT_EQ(events[3]["room"], "chat:lobby");
  EXPECT_EQ(events[3]["from"], user);
  EXPECT_EQ(events[3]["offset"], offset);
  EXPECT_EQ(events[3]["data"], (json{{"text", "hi"}}));
  EXPECT_EQ(events[4]["user"], user);
  EXPECT_EQ(events[5]["room"], "chat:lobby");
  EXPECT_TRUE(eventually([&] { return node.metrics().webhook_events_delivered.load() == 7; }));
  EXPECT_EQ(node.metrics().webhook_queue_events.load(), 0);
}

TEST(Webhooks, AReceiverWithAnotherSecretRejectsTheBatch) {
  WebhookReceiver receiver({.secret = "another-secret-entirely-0123"});
  TestNode node(hooked(receiver.url(), "connection_opened"));
  WsClient alice(node.port());
  json batch = receiver.next_report();
  EXPECT_FALSE(batch["verified"].get<bool>());
  EXPECT_EQ(batch["why"], "bad signature");
  EXPECT_TRUE(eventually([&] { return node.metrics().webhook_failures.load() >= 1; }));  // 401: retried
  EXPECT_EQ(node.metrics().webhook_events_delivered.load(), 0u);
}

TEST(Webhooks, OnlyTheRoomsOfTheEventsPatternAreSent) {
  WebhookReceiver receiver({.secret = kSecret});
  TestNode node(hooked(receiver.url(), "message_published@orders:*"));
  WsClient pub(node.port());
  ASSERT_TRUE(publish(pub, "chat:lobby", 1).contains("offset"));
  ASSERT_TRUE(publish(pub, "orders:42", 2).contains("offset"));
  auto events = events_until(receiver, "message_published");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["room"], "orders:42");
  EXPECT_EQ(events[0]["data"], 2);
}

TEST(Webhooks, AReceiverThatWasDownGetsEveryEventInOrderOnceItIsUp) {
  auto port = free_port();  // nothing listens there yet
  TestNode node(hooked(url_of(port), "message_published"));
  WsClient pub(node.port());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(publish(pub, "chat:lobby", i).contains("offset"));
  ASSERT_TRUE(eventually([&] { return node.metrics().webhook_failures.load() >= 1; }));
  EXPECT_EQ(node.metrics().webhook_queue_events.load(), 3);
  WebhookReceiver receiver({.port = port, .secret = kSecret});
  // The batch that failed is sent again as it was; the events queued meanwhile follow.
  std::vector<json> events;
  while (events.size() < 3) {
    json batch = receiver.next_report();
    EXPECT_TRUE(batch["verified"].get<bool>()) << batch.dump();
    for (auto& e : batch["events"]) events.push_back(e);
  }
  ASSERT_EQ(events.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(events[i]["data"], i);
  // Counted delivered, then let go of the queue (both once the answer came back): waited for together.
  EXPECT_TRUE(eventually([&] {
    return node.metrics().webhook_events_delivered.load() == 3 && node.metrics().webhook_queue_events.load() == 0;
  })) << node.metrics().webhook_events_delivered.load() << " delivered, " << node.metrics().webhook_queue_events.load()
      << " still queued";
}

TEST(Webhooks, ASlowReceiverFillsTheQueueAndDropsAreCountedWhileClientsGetTheirMessages) {
  WebhookReceiver receiver({.secret = kSecret, .hang = true});  // takes batches, never answers
  auto c = hooked(receiver.url(), "message_published");
  c.webhook_queue_size = 5;
  TestNode node(c);
  WsClient sub(node.port());
  ASSERT_EQ(sub.request({{"op", "subscribe"}, {"room", "chat:lobby"}})["ok"], true);
  WsClient pub(node.port());
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(publish(pub, "chat:lobby", i).contains("offset"));
    json m = sub.read_until([](const json& j) { return j["type"] == "message"; });
    EXPECT_EQ(m["data"], i);
  }
  // Each event is queued before its publish is acked: 5 held (the batch under way among them), 15 dropped.
  EXPECT_EQ(node.metrics().webhook_dropped_queue_full.load(), 15u);
  EXPECT_EQ(node.metrics().webhook_queue_events.load(), 5);
  EXPECT_EQ(node.metrics().webhook_events_delivered.load(), 0u);
  EXPECT_NE(http_get(node.port(), "/metrics").body.find(
                "switchboard_webhook_events_dropped_total{reason=\"queue_full\"} 15"),
            std::string::npos);
}

TEST(Webhooks, ABatchTheBackendRefusesWithA4xxIsDroppedAndCountedNotRetried) {
  WebhookReceiver receiver({.secret = kSecret, .status = 413});
  TestNode node(hooked(receiver.url(), "message_published"));
  WsClient pub(node.port());
  ASSERT_TRUE(publish(pub, "chat:lobby", 1).contains("offset"));
  EXPECT_EQ(receiver.next_report()["events"].size(), 1u);
  ASSERT_TRUE(eventually([&] { return node.metrics().webhook_dropped_rejected.load() == 1; }));
  EXPECT_EQ(node.metrics().webhook_queue_events.load(), 0);
  // The next event goes in a batch of its own: the refused one is not sent again.
  ASSERT_TRUE(publish(pub, "chat:lobby", 2).contains("offset"));
  json next = receiver.next_report();
  ASSERT_EQ(next["events"].size(), 1u) << next.dump();
  EXPECT_EQ(next["events"][0]["data"], 2);
  EXPECT_NE(http_get(node.port(), "/metrics").body.find("switchboard_webhook_events_dropped_total{reason=\"rejected\"}"),
            std::string::npos);
}

TEST(Webhooks, ABatchThatFailsForTheRetryTimeIsGivenUpAndCounted) {
  auto c = hooked(url_of(free_port()), "message_published");  // nothing listens
  c.webhook_retry_for = std::chrono::seconds(0);
  TestNode node(c);
  WsClient pub(node.port());
  ASSERT_TRUE(publish(pub, "chat:lobby", 1).contains("offset"));
  ASSERT_TRUE(eventually([&] { return node.metrics().webhook_dropped_gave_up.load() == 1; }));
  EXPECT_EQ(node.metrics().webhook_queue_events.load(), 0);
  EXPECT_NE(http_get(node.port(), "/metrics").body.find(
                "switchboard_webhook_events_dropped_total{reason=\"gave_up\"} 1"),
            std::string::npos);
}

TEST(Webhooks, BatchesReuseTheKeptAliveConnection) {
  WebhookReceiver receiver({.secret = kSecret});
  TestNode node(hooked(receiver.url(), "message_published"));
  WsClient pub(node.port());
  ASSERT_TRUE(publish(pub, "chat:lobby", 1).contains("offset"));
  json first = receiver.next_report();
  ASSERT_TRUE(eventually([&] { return node.metrics().webhook_batches_delivered.load() == 1; }));
  ASSERT_TRUE(publish(pub, "chat:lobby", 2).contains("offset"));
  json second = receiver.next_report();
  EXPECT_EQ(first["events"][0]["data"], 1);
  EXPECT_EQ(second["events"][0]["data"], 2);
  EXPECT_EQ(first["peer_port"], second["peer_port"]) << "the second batch came on a new connection";
}

TEST(Webhooks, HttpsWithTheCertificateOfTheCaFile) {
  const ScratchDir dir("webhook");
  auto cert = make_test_cert(dir.str());
  WebhookReceiver receiver({.secret = kSecret, .cert_path = cert.cert_path, .key_path = cert.key_path});
  auto c = hooked(receiver.url(), "message_published");
  c.webhook_ca_file = cert.cert_path;
  TestNode node(c);
  WsClient pub(node.port());
  ASSERT_TRUE(publish(pub, "chat:lobby", "secure").contains("offset"));
  json batch = receiver.next_report();
  EXPECT_TRUE(batch["verified"].get<bool>());
  EXPECT_EQ(batch["events"][0]["data"], "secure");
}

TEST(Webhooks, HttpsToAnUntrustedCertificateIsNotSent) {
  const ScratchDir dir("webhook");
  auto cert = make_test_cert(dir.str());
  WebhookReceiver receiver({.secret = kSecret, .cert_path = cert.cert_path, .key_path = cert.key_path});
  TestNode node(hooked(receiver.url(), "message_published"));  // the system's CAs only
  WsClient pub(node.port());
  ASSERT_TRUE(publish(pub, "chat:lobby", "secret").contains("offset"));
  ASSERT_TRUE(eventually([&] { return node.metrics().webhook_failures.load() >= 1; }));
  EXPECT_EQ(node.metrics().webhook_events_delivered.load(), 0u);
  // Refused at the handshake: no batch reached the receiver (it reports one before answering).
  EXPECT_THROW(receiver.next_report(std::chrono::milliseconds(0)), std::runtime_error);
}

// Two nodes of a cluster on one Redis, each sending to the same receiver: a room's members and
// its occupancy are told once for the cluster, by the node whose join or leave changed them.
TEST(Webhooks, AClusterOfThreeNodesTellsEachFactOnce) {
  RedisServer redis;
  WebhookReceiver receiver({.secret = kSecret});
  auto config = [&] {
    auto c = cluster_config(redis);
    c.webhook_urls = {receiver.url()};
    c.webhook_secret = kSecret;
    c.webhook_events = "room_occupied,room_vacated,member_added,member_removed,message_published";
    return c;
  };
  TestNode a(config()), b(config()), c(config());
  for (TestNode* node : {&a, &b, &c}) wait_ready(*node);
  std::vector<json> events;
  std::size_t awaited = 0;  // events before this one were looked at by await
  // Reads batches until an event of `type` about `user` (any user when empty) is among the
  // events not awaited yet (a batch may bring several).
  auto await = [&](const std::string& type, const std::string& user = "") {
    while (true) {
      for (; awaited < events.size(); ++awaited) {
        const json& e = events[awaited];
        if (e["type"] == type && (user.empty() || e["user"] == user)) {
          ++awaited;
          return;
        }
      }
      json batch = receiver.next_report();
      EXPECT_TRUE(batch["verified"].get<bool>());
      for (auto& e : batch["events"]) events.push_back(e);
    }
  };
  auto subscribe = [](WsClient& client) {
    ASSERT_EQ(client.request({{"op", "subscribe"}, {"room", "chat:lobby"}, {"presence", true}})["ok"], true);
  };
  std::vector<std::string> users;
  {
    // One member per node, each joining after the previous one's join was told.
    std::vector<std::unique_ptr<WsClient>> clients;
    for (TestNode* node : {&a, &b, &c}) {
      clients.push_back(std::make_unique<WsClient>(node->port()));
      subscribe(*clients.back());
      json joined = clients.back()->read_until([&](const json& j) {
        return j["type"] == "join" && std::find(users.begin(), users.end(), j["user"]) == users.end();
      });
      users.push_back(joined["user"]);
      await("member_added", users.back());
    }
    // A message published on b is told once, by b.
    ASSERT_TRUE(clients[1]->request({{"op", "publish"}, {"room", "chat:lobby"}, {"data", "hi"}}).contains("offset"));
    await("message_published");
    // Leaving in the reverse order: each leave told once, by the leaving member's node.
    for (int i = 2; i >= 0; --i) {
      clients[i]->close();
      await("member_removed", users[i]);
    }
    await("room_vacated");
  }
  std::vector<std::string> seen;
  for (auto& e : events) seen.push_back(e["type"].get<std::string>() + (e.contains("user") ? ":" + e["user"].get<std::string>() : ""));
  EXPECT_EQ(seen, (std::vector<std::string>{"room_occupied", "member_added:" + users[0], "member_added:" + users[1],
                                            "member_added:" + users[2], "message_published",
                                            "member_removed:" + users[2], "member_removed:" + users[1],
                                            "member_removed:" + users[0], "room_vacated"}));
  // Nothing more, from any node.
  EXPECT_TRUE(eventually([&] {
    return a.metrics().webhook_events_delivered.load() + b.metrics().webhook_events_delivered.load() +
               c.metrics().webhook_events_delivered.load() ==
           9;
  }));
  EXPECT_THROW(receiver.next_report(std::chrono::milliseconds(0)), std::runtime_error);
}

// A node of a cluster that stops (SIGTERM) tells its users' last leaves before it goes: no other
// node will (it leaves the cluster cleanly, and nobody reaps it). The backend is slow: the leaves
// wait behind a batch under way as the node stops.
TEST(Webhooks, ANodeThatStopsTellsTheLastLeavesOfItsUsers) {
  RedisServer redis;
  WebhookReceiver receiver({.secret = kSecret, .delay_ms = 500});
  auto c = cluster_config(redis);
  c.webhook_urls = {receiver.url()};
  c.webhook_secret = kSecret;
  c.webhook_events = "room_occupied,room_vacated,member_added,member_removed";
  auto node = std::make_unique<TestNode>(c);
  wait_ready(*node);
  WsClient client(node->port());
  ASSERT_EQ(client.request({{"op", "subscribe"}, {"room", "chat:lobby"}, {"presence", true}})["ok"], true);
  std::vector<std::string> seen;
  auto take = [&] {
    json batch = receiver.next_report();
    EXPECT_TRUE(batch["verified"].get<bool>());
    for (auto& e : batch["events"]) seen.push_back(e["type"].get<std::string>());
  };
  take();  // reported before it is answered: the node stops while this batch is under way
  node.reset();  // and while the client is still connected
  while (seen.size() < 4) take();
  EXPECT_EQ(seen, (std::vector<std::string>{"room_occupied", "member_added", "member_removed", "room_vacated"}));
}

}  // namespace webhook_test
