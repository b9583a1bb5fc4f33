// GET /sse: Server-Sent Events streams for clients that cannot open a WebSocket. Their rooms'
// messages with resumable ids, presence events, the HTTP API beside them, and the same limits
// as WebSockets: tokens, slow readers, keep-alives, the node's connection cap, shutdown.
#include <gtest/gtest.h>

#include "SseClient.h"
#include "TestNode.h"
#include "TestToken.h"
#include "WsClient.h"

namespace sse_test {  // this suite's own names: the sanitizer builds compile suites together

using namespace switchboard;
using namespace switchboard::test;
using nlohmann::json;

namespace {

const std::string kSecret = "sse-test-secret-0123456789abcdef";

server::Config jwt_config() { return TestNode::jwt_config(kSecret); }

std::string token(const std::string& user, const json& extra = json::object(), long long ttl = 3600) {
  return user_token(kSecret, user, extra, ttl);
}

json publish(WsClient& ws, const std::string& room, json data) {
  return ws.request({{"op", "publish"}, {"room", room}, {"data", std::move(data)}});
}

// Reads the "subscribed" events of a new stream, one per room, in any order.
std::map<std::string, json> subscribed(SseClient& sse, std::size_t rooms) {
  std::map<std::string, json> out;
  while (out.size() < rooms) {
    json event = sse.next_json();
    EXPECT_EQ(event["type"], "subscribed") << event;
    out[event["room"]] = event;
  }
  return out;
}

std::string code_of(const SseClient& sse) { return json::parse(sse.body())["error"]["code"]; }

}  // namespace

TEST(Sse, StreamsTheRoomsMessagesWithIdsThatSayWhereEachRoomStands) {
  TestNode node;
  WsClient pub(node.port());
  publish(pub, "news", "before");  // news stands at 1 when the stream starts
  SseClient sse(node.port(), "/sse?rooms=chat:lobby,news");
  ASSERT_EQ(sse.status(), 200);
  EXPECT_EQ(sse.header("content-type"), "text/event-stream; charset=utf-8");
  EXPECT_EQ(sse.header("cache-control"), "no-store");
  EXPECT_EQ(sse.header("transfer-encoding"), "chunked");
  auto subs = subscribed(sse, 2);
  EXPECT_EQ(subs["news"]["offset"], 1);
  EXPECT_EQ(subs["chat:lobby"]["offset"], 0);
  std::string lobby_epoch = subs["chat:lobby"]["epoch"], news_epoch = subs["news"]["epoch"];

  publish(pub, "chat:lobby", {{"text", "hi"}});
  publish(pub, "elsewhere", "not streamed");
  publish(pub, "news", "extra");
  SseEvent first = sse.next();
  json message = json::parse(first.data);
  EXPECT_TRUE(message["from"].is_string());  // the publisher's generated anonymous id
  message.erase("from");
  EXPECT_EQ(message, (json{{"type", "message"}, {"room", "chat:lobby"}, {"data", {{"text", "hi"}}}, {"offset", 1}}));
  ASSERT_TRUE(first.id);
  // Every room's position, in the order of ?rooms=.
  EXPECT_EQ(*first.id, "chat:lobby=1." + lobby_epoch + ",news=1." + news_epoch);
  SseEvent second = sse.next();
  EXPECT_EQ(json::parse(second.data)["data"], "extra");
  EXPECT_EQ(*second.id, "chat:lobby=1." + lobby_epoch + ",news=2." + news_epoch);
  EXPECT_EQ(node.metrics().sse_streams_opened.load(), 1u);
  EXPECT_EQ(node.metrics().connections_current.load(), 2);  // the stream counts like a WebSocket
}

TEST(Sse, LastEventIdResumesEveryRoomWithNothingLostNorRepeated) {
  TestNode node;
  WsClient pub(node.port());
  std::string last_id;
  {
    SseClient sse(node.port(), "/sse?rooms=a,b");
    subscribed(sse, 2);
    publish(pub, "a", 1);
    publish(pub, "b", 1);
    sse.next();
    last_id = *sse.next().id;
  }
  // Missed while away: two in a, one in b.
  publish(pub, "a", 2);
  publish(pub, "b", 2);
  publish(pub, "a", 3);
  SseClient back(node.port(), "/sse?rooms=a,b", {.headers = {{"Last-Event-ID", last_id}}});
  ASSERT_EQ(back.status(), 200);
  std::vector<std::pair<std::string, int>> got;
  std::size_t recovered = 0;
  while (got.size() < 3) {
    json event = back.next_json();
    if (event["type"] == "subscribed") {
      EXPECT_EQ(event["recovered"], true) << event;
      ++recovered;
      continue;
    }
    got.emplace_back(event["room"], event["data"]);
  }
  EXPECT_EQ(recovered, 2u);
  // Per room in order; a and b may interleave.
  std::vector<int> a, b;
  for (auto& [room, n] : got) (room == "a" ? a : b).push_back(n);
  EXPECT_EQ(a, (std::vector<int>{2, 3}));
  EXPECT_EQ(b, (std::vector<int>{2}));
  EXPECT_TRUE(back.quiet_for(std::chrono::milliseconds(100)));
  publish(pub, "a", 4);
  EXPECT_EQ(back.next_json()["data"], 4);
  EXPECT_EQ(node.metrics().recoveries_succeeded.load(), 2u);
}

TEST(Sse, TheQueryParameterResumesTooAndAForeignEpochSaysNotRecovered) {
  TestNode node;
  WsClient pub(node.port());
  publish(pub, "a", 1);
  publish(pub, "a", 2);
  SseClient sse(node.port(), "/sse?rooms=a");
  std::string epoch = subscribed(sse, 1)["a"]["epoch"];
  sse.drop();

  SseClient resumed(node.port(), "/sse?rooms=a&last_event_id=a%3D1." + epoch);
  json event = resumed.next_json();
  EXPECT_EQ(event["recovered"], true);
  EXPECT_EQ(resumed.next_json()["data"], 2);

  SseClient stranger(node.port(), "/sse?rooms=a", {.headers = {{"Last-Event-ID", "a=1.not-this-epoch"}}});
  json reply = stranger.next_json();
  EXPECT_EQ(reply["recovered"], false);  // the client reloads what it shows
  EXPECT_EQ(reply["offset"], 2);
  EXPECT_TRUE(stranger.quiet_for(std::chrono::milliseconds(100)));
}

TEST(Sse, PresenceEventsForTheRoomsThatAskForThem) {
  TestNode node;
  SseClient sse(node.port(), "/sse?rooms=a,b&presence=a");
  // Its own join comes first, somewhere among the subscribed events.
  std::vector<json> start{sse.next_json(), sse.next_json(), sse.next_json()};
  EXPECT_EQ(std::count_if(start.begin(), start.end(), [](const json& e) { return e["type"] == "join"; }), 1) << start[0] << start[1] << start[2];
  WsClient joiner(node.port());
  joiner.request({{"op", "subscribe"}, {"room", "b"}});
  joiner.request({{"op", "subscribe"}, {"room", "a"}});
  json join = sse.next_json();
  EXPECT_EQ(join["type"], "join") << join;
  EXPECT_EQ(join["room"], "a");
  joiner.close();
  json leave = sse.next_json();
  EXPECT_EQ(leave["type"], "leave");
  EXPECT_EQ(leave["room"], "a");
  // The stream is present itself, like a WebSocket subscriber.
  WsClient asker(node.port());
  EXPECT_EQ(asker.request({{"op", "presence"}, {"room", "a"}})["users"].size(), 1u);
}

TEST(Sse, BadRequestsAreAnswered400WithTheReason) {
  auto config = TestNode::default_config();
  config.max_rooms = 2;
  TestNode node(config);
  for (std::string target : {"/sse?rooms=a,,b", "/sse?rooms=,a", "/sse?rooms=a,a", "/sse?rooms=a%20b", "/sse?rooms=a&presence=b", "/sse?rooms=a&last_event_id=a=x.e"}) {
    SseClient sse(node.port(), target);
    EXPECT_EQ(sse.status(), 400) << target;
    EXPECT_EQ(code_of(sse), "bad_request") << target;
  }
  SseClient bad_id(node.port(), "/sse?rooms=a", {.headers = {{"Last-Event-ID", "a=1"}}});
  EXPECT_EQ(bad_id.status(), 400);
  EXPECT_EQ(node.metrics().connections_current.load(), 0);
  // Rooms past --max-rooms are refused one by one, as subscribes over a WebSocket are.
  SseClient many(node.port(), "/sse?rooms=a,b,c");
  ASSERT_EQ(many.status(), 200);
  std::map<std::string, json> events;
  while (events.size() < 3) {
    json e = many.next_json();
    events[e["room"]] = e;
  }
  EXPECT_EQ(events["a"]["type"], "subscribed");
  EXPECT_EQ(events["b"]["type"], "subscribed");
  EXPECT_EQ(events["c"]["type"], "unsubscribed");
  EXPECT_EQ(events["c"]["code"], "too_many_rooms");
}

TEST(Sse, TokensAreCheckedAndRoomsTheyDoNotAllowAreRefusedOneByOne) {
  TestNode node(jwt_config());
  SseClient none(node.port(), "/sse?rooms=a");
  EXPECT_EQ(none.status(), 401);
  SseClient forged(node.port(), "/sse?rooms=a&token=" + mint_hs256("another-secret-0123456789abcdef", {{"sub", "x"}}));
  EXPECT_EQ(forged.status(), 401);

  std::string limited = token("lee", {{"rooms", {{"sub", {"public:*"}}}}});
  SseClient sse(node.port(), "/sse?rooms=public:news,private:x",
                {.headers = {{"Authorization", "Bearer " + limited}}});
  ASSERT_EQ(sse.status(), 200);
  std::map<std::string, json> events;
  while (events.size() < 2) {
    json e = sse.next_json();
    events[e["room"]] = e;
  }
  EXPECT_EQ(events["public:news"]["type"], "subscribed");
  EXPECT_EQ(events["private:x"]["type"], "unsubscribed");
  EXPECT_EQ(events["private:x"]["code"], "forbidden");
}

TEST(Sse, AnExpiringTokenGetsARefreshEventThenTheStreamClosesWith4001) {
  TestNode node(jwt_config());
  SseClient sse(node.port(), "/sse?rooms=a&token=" + token("kim", json::object(), 2), {.headers = {}, .http10 = false, .rcvbuf = 0, .deadline = std::chrono::seconds(10)});
  subscribed(sse, 1);
  json refresh = sse.next_json();
  EXPECT_EQ(refresh["type"], "refresh");  // reconnect with a new token and the last event id
  json close = sse.next_json();
  EXPECT_EQ(close, (json{{"type", "close"}, {"code", 4001}, {"reason", "token expired"}}));
  EXPECT_TRUE(sse.read_until_end());  // the body ends properly
  EXPECT_TRUE(eventually([&] { return node.metrics().connections_current.load() == 0; }));
  EXPECT_EQ(node.metrics().closes(4001), 1u);
}

TEST(Sse, AQuietStreamGetsKeepAliveComments) {
  auto config = TestNode::default_config();
  config.sse_keepalive = std::chrono::seconds(1);
  TestNode node(config);
  SseClient sse(node.port(), "/sse?rooms=a");
  subscribed(sse, 1);
  SseEvent ping = sse.next();
  EXPECT_TRUE(ping.comment);
}

TEST(Sse, AReaderThatStopsTakingIsCutAndCountedAsASlowConsumer) {
  auto config = TestNode::default_config();
  config.max_message_size = 4096;
  config.max_queue_bytes = 16 * 1024;
  config.sse_keepalive = std::chrono::seconds(1);
  config.close_timeout = std::chrono::milliseconds(300);
  TestNode node(config);
  SseClient stuck(node.port(), "/sse?rooms=a", {.headers = {}, .http10 = false, .rcvbuf = 4096});
  subscribed(stuck, 1);
  WsClient pub(node.port());
  std::string big(3000, 'x');
  // Far more than the socket buffers and the queue hold: the node gives up on the stream.
  for (int i = 0; i < 5000 && node.metrics().slow_consumers.load() == 0; ++i) publish(pub, "a", big);
  EXPECT_TRUE(eventually([&] { return node.metrics().slow_consumers.load() == 1; }));
  EXPECT_TRUE(eventually([&] { return node.dispatcher().connection_count() == 1; }));  // the publisher is left
  EXPECT_EQ(publish(pub, "a", "still served")["ok"], true);
}

TEST(Sse, StreamsCountAgainstTheConnectionCap) {
  auto config = TestNode::default_config();
  config.max_connections = 1;
  TestNode node(config);
  SseClient sse(node.port(), "/sse?rooms=a");
  subscribed(sse, 1);
  SseClient second(node.port(), "/sse?rooms=a");
  EXPECT_EQ(second.status(), 503);
  EXPECT_EQ(code_of(second), "too_many_connections");
  EXPECT_EQ(WsClient::try_handshake(node.port()).status, 503);
  sse.drop();
  EXPECT_TRUE(eventually([&] { return WsClient::try_handshake(node.port()).status == 101; }));
}

TEST(Sse, ShutdownSendsACloseEventAndEndsTheBody) {
  TestNode node;
  SseClient sse(node.port(), "/sse");  // no rooms: still a stream, with the node's own events
  ASSERT_EQ(sse.status(), 200);
  // Open as far as the node is concerned (the head may reach the client a moment before).
  ASSERT_TRUE(eventually([&] { return node.metrics().connections_current.load() == 1; }));
  node.server().stop(std::chrono::milliseconds(500));
  EXPECT_EQ(sse.next_json(), (json{{"type", "close"}, {"code", 1001}, {"reason", "going away"}}));
  EXPECT_TRUE(sse.read_until_end());
}

TEST(Sse, AnHttp10ClientGetsABodyThatEndsWithTheConnection) {
  TestNode node;
  SseClient sse(node.port(), "/sse?rooms=a", {.headers = {}, .http10 = true});
  ASSERT_EQ(sse.status(), 200);
  EXPECT_EQ(sse.header("transfer-encoding"), "");
  subscribed(sse, 1);
  WsClient pub(node.port());
  publish(pub, "a", "hello");
  EXPECT_EQ(sse.next_json()["data"], "hello");
}

}  // namespace sse_test
