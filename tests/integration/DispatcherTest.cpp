// Rooms, publishing, presence and the request/response protocol, over real WebSockets.
#include <gtest/gtest.h>

#include <thread>

#include "TestNode.h"
#include "WsClient.h"

namespace dispatcher_test {  // this suite's own names: the sanitizer builds compile suites together

using namespace switchboard;
using namespace switchboard::test;
using nlohmann::json;

namespace {

json subscribe(WsClient& c, const std::string& room, bool presence = false) {
  return c.request({{"op", "subscribe"}, {"room", room}, {"presence", presence}});
}

// The user id a connection was given, learned from its own join event.
std::string join_and_learn_user(WsClient& c, const std::string& room) {
  EXPECT_EQ(subscribe(c, room, true)["ok"], true);
  json join = c.read_json();
  EXPECT_EQ(join["type"], "join");
  return join["user"];
}

std::string error_code(const json& reply) { return reply.value("/error/code"_json_pointer, std::string()); }

}  // namespace

TEST(Dispatcher, PublishReachesEverySubscriberAndOnlyThem) {
  TestNode node;
  WsClient a(node.port()), b(node.port()), c(node.port()), outsider(node.port());
  ASSERT_EQ(subscribe(a, "chat:lobby")["ok"], true);
  ASSERT_EQ(subscribe(b, "chat:lobby")["ok"], true);
  ASSERT_EQ(subscribe(outsider, "chat:other")["ok"], true);
  json reply = c.request({{"op", "publish"}, {"room", "chat:lobby"}, {"data", {{"text", "hello"}, {"n", 1}}}});
  EXPECT_EQ(reply, (json{{"id", reply["id"]}, {"ok", true}, {"offset", 1}}));
  for (WsClient* s : {&a, &b}) {
    json m = s->read_json();
    EXPECT_EQ(m["type"], "message");
    EXPECT_EQ(m["room"], "chat:lobby");
    EXPECT_EQ(m["data"], (json{{"text", "hello"}, {"n", 1}}));
    EXPECT_TRUE(m["from"].get<std::string>().starts_with("anon-"));
    EXPECT_EQ(m["offset"], 1);
  }
  EXPECT_TRUE(outsider.quiet_for(std::chrono::milliseconds(100)));
}

TEST(Dispatcher, PublisherSubscribedGetsItsOwnMessageAndAnyJsonIsCarried) {
  TestNode node;
  WsClient a(node.port());
  subscribe(a, "r");
  for (json data : {json(nullptr), json(42), json("text"), json::array({1, "two", nullptr}),
                    json{{"nested", {{"deep", {1, 2, 3}}}}}}) {
    a.send_json({{"op", "publish"}, {"room", "r"}, {"data", data}});  // no id: no reply on success
    json m = a.read_json();
    EXPECT_EQ(m["type"], "message");
    EXPECT_EQ(m["data"], data);
  }
}

TEST(Dispatcher, MessagesFromOnePublisherArriveInOrder) {
  TestNode node;
  std::vector<std::unique_ptr<WsClient>> subs;
  for (int i = 0; i < 3; ++i) {
    subs.push_back(std::make_unique<WsClient>(node.port()));
    subscribe(*subs.back(), "ordered");
  }
  WsClient pub(node.port());
  constexpr int kMessages = 500;
  for (int i = 0; i < kMessages; ++i) pub.send_json({{"op", "publish"}, {"room", "ordered"}, {"data", i}});
  for (auto& s : subs)
    for (int i = 0; i < kMessages; ++i) ASSERT_EQ(s->read_json()["data"], i);
  EXPECT_EQ(pub.request({{"op", "ping"}})["ok"], true);
}

// The node runs one io_context per I/O thread (two here) and hands connections to them in turn:
// these publishers and subscribers sit on both threads, so deliveries are queued directly on
// the publisher's thread and posted to the other one. Every subscriber still gets the room in
// offset order with no gap, each publisher's messages in the order it sent them, the
// publishers too (subscribed to their room, while their replies come in between).
TEST(Dispatcher, PublishersOnBothIoThreadsKeepTheRoomInOrderForEverySubscriber) {
  TestNode node;
  std::vector<std::unique_ptr<WsClient>> subs;
  for (int i = 0; i < 4; ++i) {
    subs.push_back(std::make_unique<WsClient>(node.port()));
    ASSERT_EQ(subscribe(*subs.back(), "busy")["ok"], true);
  }
  constexpr int kPerPublisher = 300;
  constexpr int kTotal = 2 * kPerPublisher;
  std::vector<std::unique_ptr<WsClient>> pubs;
  for (int p = 0; p < 2; ++p) {
    pubs.push_back(std::make_unique<WsClient>(node.port()));
    ASSERT_EQ(subscribe(*pubs.back(), "busy")["ok"], true);
  }
  std::vector<std::string> failures(2);
  std::vector<std::thread> publishers;
  for (int p = 0; p < 2; ++p)
    publishers.emplace_back([&, p] {
      WsClient& me = *pubs[p];
      try {
        for (int i = 0; i < kPerPublisher; ++i)
          me.send_json({{"op", "publish"}, {"id", 1000 + i}, {"room", "busy"}, {"data", {{"p", p}, {"i", i}}}});
        std::size_t acked = 0;
        int messages = 0, next_mine = 0;
        std::int64_t last = 0;
        while (messages < kTotal || acked < kPerPublisher) {
          json m = me.read_json();
          if (m.contains("ok")) {
            if (m["ok"] != true) throw std::runtime_error("publish failed: " + m.dump());
            ++acked;
            continue;
          }
          std::int64_t offset = m["offset"];
          if (offset != last + 1) throw std::runtime_error("offset " + std::to_string(offset) + " after " + std::to_string(last));
          last = offset;
          ++messages;
          if (m["data"]["p"] != p) continue;
          if (m["data"]["i"] != next_mine++) throw std::runtime_error("own messages out of order");
        }
      } catch (const std::exception& e) {
        failures[p] = e.what();
      }
    });
  for (auto& t : publishers) t.join();
  EXPECT_EQ(failures[0], "");
  EXPECT_EQ(failures[1], "");
  for (auto& s : subs) {
    int next[2] = {0, 0};
    for (int n = 1; n <= kTotal; ++n) {
      json m = s->read_json();
      ASSERT_EQ(m["offset"], n);
      int p = m["data"]["p"];
      ASSERT_EQ(m["data"]["i"], next[p]++);
    }
  }
}

TEST(Dispatcher, UnsubscribeStopsDeliveryAndTwiceIsNotSubscribed) {
  TestNode node;
  WsClient a(node.port()), pub(node.port());
  subscribe(a, "r");
  EXPECT_EQ(a.request({{"op", "unsubscribe"}, {"room", "r"}})["ok"], true);
  json again = a.request({{"op", "unsubscribe"}, {"room", "r"}});
  EXPECT_EQ(error_code(again), "not_subscribed");
  pub.request({{"op", "publish"}, {"room", "r"}, {"data", 1}});
  EXPECT_TRUE(a.quiet_for(std::chrono::milliseconds(100)));
  EXPECT_EQ(node.dispatcher().registry().room_count(), 0u);
}

TEST(Dispatcher, SubscribeTwiceIsIdempotent) {
  TestNode node;
  WsClient a(node.port()), pub(node.port());
  subscribe(a, "r");
  EXPECT_EQ(subscribe(a, "r")["ok"], true);
  pub.request({{"op", "publish"}, {"room", "r"}, {"data", "once"}});
  EXPECT_EQ(a.read_json()["data"], "once");
  EXPECT_TRUE(a.quiet_for(std::chrono::milliseconds(100)));
  EXPECT_EQ(node.dispatcher().registry().subscription_count(), 1u);
}

TEST(Dispatcher, PresenceListAndJoinLeaveEvents) {
  TestNode node;
  WsClient watcher(node.port()), other(node.port());
  std::string watcher_user = join_and_learn_user(watcher, "room:p");

  // Another user subscribing without presence events still appears to watchers.
  subscribe(other, "room:p");
  json join = watcher.read_json();
  EXPECT_EQ(join["type"], "join");
  EXPECT_EQ(join["room"], "room:p");
  EXPECT_EQ(join["info"], json::object());
  std::string other_user = join["user"];
  EXPECT_NE(other_user, watcher_user);

  json list = other.request({{"op", "presence"}, {"room", "room:p"}});
  ASSERT_EQ(list["ok"], true);
  std::vector<std::string> users;
  for (const auto& u : list["users"]) {
    users.push_back(u["user"]);
    EXPECT_EQ(u["conns"], 1);
    EXPECT_EQ(u["info"], json::object());
  }
  std::vector<std::string> expected{watcher_user, other_user};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(users, expected);

  // Unsubscribe sends leave.
  other.request({{"op", "unsubscribe"}, {"room", "room:p"}});
  json leave = watcher.read_json();
  EXPECT_EQ(leave, (json{{"type", "leave"}, {"room", "room:p"}, {"user", other_user}, {"info", json::object()}}));

  // A disconnect without a close frame sends leave too, and the room forgets the connection.
  WsClient third(node.port());
  subscribe(third, "room:p");
  std::string third_user = watcher.read_json()["user"];
  third.drop(/*reset=*/true);
  leave = watcher.read_json();
  EXPECT_EQ(leave["type"], "leave");
  EXPECT_EQ(leave["user"], third_user);
  json after = watcher.request({{"op", "presence"}, {"room", "room:p"}});
  ASSERT_EQ(after["users"].size(), 1u);
  EXPECT_EQ(after["users"][0]["user"], watcher_user);

  EXPECT_EQ(watcher.request({{"op", "presence"}, {"room", "room:empty"}})["users"], json::array());
}

TEST(Dispatcher, PingAndSilentSuccessWithoutId) {
  TestNode node;
  WsClient a(node.port());
  a.send_json({{"op", "ping"}});
  a.send_json({{"op", "subscribe"}, {"room", "r"}});
  a.send_json({{"op", "ping"}, {"id", "last"}});
  // Nothing answers the two requests without id: the first frame is the reply to "last".
  EXPECT_EQ(a.read_json(), (json{{"id", "last"}, {"ok", true}}));
  a.ping("hello");
  EXPECT_TRUE(a.quiet_for(std::chrono::milliseconds(100)));
  EXPECT_EQ(a.pongs_received(), 1);
}

TEST(Dispatcher, PongsNeverLandInsideTheGatherWritesOfMessages) {
  // The node frames messages itself and writes many in one go, and answers pings on the
  // same socket: every frame must still arrive whole, in order.
  TestNode node;
  WsClient sub(node.port()), pub(node.port());
  subscribe(sub, "burst");
  constexpr int kMessages = 600, kPings = 60;
  std::string text(700, 'p');  // several frames per write, some writes of many kilobytes
  for (int i = 1; i <= kMessages; ++i) {
    pub.send_json({{"op", "publish"}, {"room", "burst"}, {"data", {{"n", i}, {"pad", text}}}});
    if (i % (kMessages / kPings) == 0) sub.ping("p" + std::to_string(i));
  }
  for (int i = 1; i <= kMessages; ++i) {
    json m = sub.read_json();
    ASSERT_EQ(m["data"]["n"], i) << m.dump().substr(0, 200);
    ASSERT_EQ(m["offset"], i);
  }
  EXPECT_EQ(sub.request({{"op", "ping"}})["ok"], true);
  EXPECT_EQ(sub.pongs_received(), kPings);
  EXPECT_GE(node.metrics().frames_sent.load(), static_cast<std::uint64_t>(kMessages));
}

TEST(Dispatcher, EveryClientErrorIsAnsweredAndCounted) {
  auto config = TestNode::default_config();
  config.max_rooms = 2;
  config.publish_rate = 0.001;  // effectively no refill during the test
  config.publish_burst = 2;
  TestNode node(config);
  WsClient a(node.port());
  using protocol::ErrorCode;

  a.send_text("{not json");
  json r = a.read_json();
  EXPECT_EQ(error_code(r), "bad_json");
  EXPECT_FALSE(r.contains("id"));
  EXPECT_FALSE(r["error"]["message"].get<std::string>().empty());

  EXPECT_EQ(error_code(a.request({{"op", "subscribe"}})), "bad_request");             // no room
  EXPECT_EQ(error_code(a.request({{"op", "publish"}, {"room", "r"}})), "bad_request");  // no data
  a.send_text("[1,2,3]");
  EXPECT_EQ(error_code(a.read_json()), "bad_request");
  a.send_binary(R"({"op":"ping","id":1})");
  EXPECT_EQ(error_code(a.read_json()), "bad_request");
  EXPECT_EQ(error_code(a.request({{"op", "dance"}})), "unknown_op");
  EXPECT_EQ(error_code(a.request({{"op", "subscribe"}, {"room", "no spaces"}})), "bad_room");
  EXPECT_EQ(error_code(a.request({{"op", "subscribe"}, {"room", std::string(201, 'x')}})), "bad_room");
  EXPECT_EQ(error_code(a.request({{"op", "unsubscribe"}, {"room", "never"}})), "not_subscribed");
  subscribe(a, "one");
  subscribe(a, "two");
  EXPECT_EQ(error_code(subscribe(a, "three")), "too_many_rooms");
  EXPECT_EQ(a.request({{"op", "publish"}, {"room", "x"}, {"data", 1}})["ok"], true);
  EXPECT_EQ(a.request({{"op", "publish"}, {"room", "x"}, {"data", 2}})["ok"], true);
  json limited = a.request({{"op", "publish"}, {"room", "x"}, {"data", 3}});
  EXPECT_EQ(error_code(limited), "rate_limited");
  EXPECT_TRUE(limited.contains("id"));

  // The id is echoed on errors, integer or string.
  json with_id = a.request({{"op", "dance"}, {"id", "abc"}});
  EXPECT_EQ(with_id["id"], "abc");

  // The connection survived all of it.
  EXPECT_EQ(a.request({{"op", "ping"}})["ok"], true);
  EXPECT_EQ(node.metrics().errors(ErrorCode::bad_json), 1u);
  EXPECT_EQ(node.metrics().errors(ErrorCode::bad_request), 4u);
  EXPECT_EQ(node.metrics().errors(ErrorCode::unknown_op), 2u);
  EXPECT_EQ(node.metrics().errors(ErrorCode::bad_room), 2u);
  EXPECT_EQ(node.metrics().errors(ErrorCode::not_subscribed), 1u);
  EXPECT_EQ(node.metrics().errors(ErrorCode::too_many_rooms), 1u);
  EXPECT_EQ(node.metrics().errors(ErrorCode::rate_limited), 1u);
  EXPECT_EQ(node.metrics().deliveries_dropped_rate_limited.load(), 1u);  // the refused publish
}

TEST(Dispatcher, OversizeFrameClosesWith1009AndOthersStay) {
  auto config = TestNode::default_config();
  config.max_message_size = 1024;
  TestNode node(config);
  WsClient a(node.port()), bystander(node.port());
  subscribe(bystander, "r");
  a.try_send_text(std::string(2000, 'x'));
  CloseInfo info = a.read_until_closed();
  EXPECT_TRUE(info.closed);
  EXPECT_EQ(info.code, 1009);
  // A frame right at the limit is fine.
  json big = {{"op", "publish"}, {"room", "r"}, {"data", std::string(900, 'y')}};
  bystander.send_json(big);
  EXPECT_EQ(bystander.read_json()["data"].get<std::string>().size(), 900u);
  EXPECT_TRUE(eventually([&] { return node.metrics().closes(1009) == 1; }));
}

TEST(Dispatcher, InvalidUtf8ClosesWith1007) {
  TestNode node;
  WsClient a(node.port());
  a.send_raw_bytes(WsClient::encode_frame(1, "{\"op\":\"ping\",\"x\":\"\xff\xfe\"}"));
  CloseInfo info = a.read_until_closed();
  EXPECT_TRUE(info.closed);
  EXPECT_EQ(info.code, 1007);
}

// Each breach of RFC 6455 closes its connection with 1002 (counted), once what the client sent
// before it was answered; other connections stay.
TEST(Dispatcher, BreachesOfTheWebSocketProtocolCloseWith1002) {
  TestNode node;
  WsClient other(node.port());
  const std::vector<std::pair<const char*, std::string>> breaches{
      {"an unmasked frame", WsClient::encode_frame(1, R"({"op":"ping"})", true, false)},
      {"a reserved opcode", WsClient::encode_frame(3, "x")},
      {"a continuation of nothing", WsClient::encode_frame(0, "x")},
      {"a fragmented ping", WsClient::encode_frame(9, "x", false)},
      {"a close code no one may send", WsClient::encode_frame(8, std::string("\x03\xed", 2))},
  };
  for (const auto& [what, frame] : breaches) {
    SCOPED_TRACE(what);
    WsClient a(node.port());
    a.send_raw_bytes(WsClient::encode_frame(1, R"({"op":"ping","id":1})") + frame);
    EXPECT_EQ(a.read_json(), (json{{"id", 1}, {"ok", true}}));  // what came before is answered
    CloseInfo info = a.read_until_closed();
    EXPECT_TRUE(info.closed);
    EXPECT_EQ(info.code, 1002);
  }
  EXPECT_EQ(node.metrics().closes(1002), breaches.size());
  EXPECT_EQ(other.request({{"op", "ping"}})["ok"], true);
}

// A ping is answered with a pong carrying its payload; a close with the same code, and the
// connection then ends.
TEST(Dispatcher, PingsArePongedAndClosesAnswered) {
  TestNode node;
  WsClient a(node.port());
  a.ping("are you there");
  EXPECT_EQ(a.request({{"op", "ping"}})["ok"], true);
  EXPECT_EQ(a.pongs_received(), 1);
  a.send_raw_bytes(WsClient::encode_frame(8, std::string("\x0f\xa0") + "bye"));  // 4000
  CloseInfo info = a.read_until_closed();
  EXPECT_TRUE(info.closed);
  EXPECT_EQ(info.code, 4000);
  EXPECT_TRUE(eventually([&] { return node.dispatcher().connection_count() == 0; }));
}

TEST(Dispatcher, DeepNestingIsRefusedNotFatal) {
  TestNode node;
  WsClient a(node.port());
  std::string deep = R"({"op":"publish","room":"r","id":9,"data":)" + std::string(20000, '[') +
                     std::string(20000, ']') + "}";
  a.send_text(deep);
  json r = a.read_json();
  EXPECT_EQ(error_code(r), "bad_request");
  EXPECT_EQ(a.request({{"op", "ping"}})["ok"], true);
}

TEST(Dispatcher, FragmentedMessagesAreReassembled) {
  TestNode node;
  WsClient a(node.port());
  std::string text = R"({"op":"ping","id":"frag"})";
  a.send_raw_bytes(WsClient::encode_frame(1, text.substr(0, 10), /*fin=*/false) +
                   WsClient::encode_frame(0, text.substr(10, 5), false) + WsClient::encode_frame(0, text.substr(15)));
  EXPECT_EQ(a.read_json(), (json{{"id", "frag"}, {"ok", true}}));
}

TEST(Dispatcher, DisconnectsAtAnyMomentLeakNothing) {
  TestNode node;
  {
    WsClient keeper(node.port());
    subscribe(keeper, "r", true);
    keeper.read_json();  // own join
    for (int i = 0; i < 20; ++i) {
      WsClient c(node.port());
      subscribe(c, "r");
      subscribe(c, "solo" + std::to_string(i));
      // half a frame, then gone
      std::string frame = WsClient::encode_frame(1, R"({"op":"ping"})");
      c.send_raw_bytes(frame.substr(0, frame.size() / 2));
      c.drop(i % 2 == 0);
    }
    // Each one's join and leave reach the keeper.
    for (int i = 0; i < 40; ++i) keeper.read_json();
    keeper.close();
  }
  // Upgrade requests abandoned mid-handshake.
  for (int i = 0; i < 5; ++i) {
    WsClient::Options o;
    o.deadline = std::chrono::milliseconds(2000);
    auto r = WsClient::try_handshake(node.port(), o);
    EXPECT_EQ(r.status, 101);
  }
  EXPECT_TRUE(eventually([&] { return node.dispatcher().connection_count() == 0; }));
  EXPECT_EQ(node.dispatcher().registry().room_count(), 0u);
  EXPECT_EQ(node.dispatcher().registry().subscription_count(), 0u);
  EXPECT_TRUE(eventually([&] { return node.metrics().connections_current.load() == 0; }));
}

TEST(Dispatcher, NoMessageOfARoomFollowsItsUnsubscribeReply) {
  TestNode node;
  WsClient sub(node.port()), pub(node.port());
  for (int round = 0; round < 5; ++round) {
    subscribe(sub, "busy");
    for (int i = 0; i < 300; ++i) pub.send_json({{"op", "publish"}, {"room", "busy"}, {"data", i}});
    // Messages read before the reply are fine; none may come after it.
    EXPECT_EQ(sub.request({{"op", "unsubscribe"}, {"room", "busy"}})["ok"], true);
    while (sub.backlog_size() > 0) sub.read_json();
    EXPECT_EQ(sub.request({{"op", "ping"}})["ok"], true);
    EXPECT_EQ(sub.backlog_size(), 0u) << "a message arrived after the unsubscribe reply";
    while (sub.backlog_size() > 0) sub.read_json();
    EXPECT_EQ(pub.request({{"op", "ping"}})["ok"], true);  // the burst is fully handled
  }
}

TEST(Dispatcher, OtherRequestsAreRateLimitedToo) {
  auto config = TestNode::default_config();
  config.request_rate = 0.001;
  config.request_burst = 3;
  TestNode node(config);
  WsClient a(node.port());
  EXPECT_EQ(a.request({{"op", "subscribe"}, {"room", "r"}})["ok"], true);
  EXPECT_EQ(a.request({{"op", "unsubscribe"}, {"room", "r"}})["ok"], true);
  EXPECT_EQ(a.request({{"op", "ping"}})["ok"], true);
  EXPECT_EQ(error_code(a.request({{"op", "presence"}, {"room", "r"}})), "rate_limited");
  // Publishing has its own budget.
  EXPECT_EQ(a.request({{"op", "publish"}, {"room", "r"}, {"data", 1}})["ok"], true);
}

TEST(Dispatcher, ALargeReplyIsNotMistakenForASlowReader) {
  auto config = TestNode::default_config();
  config.max_queue_bytes = 2048;
  config.max_message_size = 1024;
  TestNode node(config);
  std::vector<std::unique_ptr<WsClient>> members;
  for (int i = 0; i < 60; ++i) {  // ~60 × 60 bytes of presence list: more than the queue bound
    members.push_back(std::make_unique<WsClient>(node.port()));
    subscribe(*members.back(), "crowd");
  }
  WsClient asker(node.port());
  json list = asker.request({{"op", "presence"}, {"room", "crowd"}});
  EXPECT_EQ(list["users"].size(), 60u);
  EXPECT_EQ(node.metrics().slow_consumers.load(), 0u);
}

TEST(Dispatcher, ShutdownReleasesConnectionsThatIgnoreTheCloseFrame) {
  TestNode node;
  WsClient deaf(node.port()), listener(node.port());
  deaf.request({{"op", "subscribe"}, {"room", "r"}});
  listener.request({{"op", "subscribe"}, {"room", "r"}});
  deaf.pause_reading();  // never answers the close handshake
  node.server().stop(std::chrono::milliseconds(300));
  EXPECT_EQ(node.dispatcher().connection_count(), 0u);
  EXPECT_EQ(node.dispatcher().registry().subscription_count(), 0u);
  EXPECT_EQ(node.metrics().connections_current.load(), 0);
  CloseInfo info = listener.read_until_closed();
  EXPECT_TRUE(info.closed);
  EXPECT_EQ(info.code, 1001);
}

TEST(Dispatcher, DrainRefusesNewcomersAndServesTheConnectedUntilTheirGoingAway) {
  TestNode node;
  WsClient stayer(node.port());
  stayer.set_deadline(std::chrono::seconds(10));
  stayer.request({{"op", "subscribe"}, {"room", "r"}});
  // Long enough for the checks below, which each take milliseconds.
  std::thread stopping([&] { node.server().stop(std::chrono::seconds(2), std::chrono::milliseconds(1500)); });
  ASSERT_TRUE(eventually([&] { return http_get(node.port(), "/readyz").status == 503; }));
  auto refused = WsClient::try_handshake(node.port());
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(json::parse(refused.body)["error"]["code"], "draining");
  EXPECT_EQ(http_get(node.port(), "/healthz").status, 200);
  EXPECT_EQ(stayer.request({{"op", "publish"}, {"room", "r"}, {"data", "still here"}})["ok"], true);
  EXPECT_EQ(stayer.read_json()["data"], "still here");
  CloseInfo info = stayer.read_until_closed();  // then the node closes it
  stopping.join();
  EXPECT_TRUE(info.closed);
  EXPECT_EQ(info.code, 1001);
  EXPECT_EQ(node.metrics().handshakes_rejected("draining"), 1u);
}

}  // namespace dispatcher_test
