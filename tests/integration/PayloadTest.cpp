// A publisher's `data` reaches everyone byte for byte as it was sent (whitespace outside strings
// aside): big integers, exponents, -0, escapes, surrogate pairs, member order, duplicate keys and
// deep nesting, on every path: a WebSocket publish and POST /api/publish, to WebSocket and
// Server-Sent Events subscribers, in history replies and in recovery, on one node and across two
// nodes sharing a real redis-server.
//
// Frames are compared as text: some of these payloads (1e400) cannot even be parsed by
// nlohmann, which is why the node no longer parses `data`.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "RedisServer.h"
#include "SseClient.h"
#include "TestNode.h"
#include "WsClient.h"

namespace payload_test {  // this suite's own names: the sanitizer builds compile suites together

using namespace switchboard;
using namespace switchboard::test;
using nlohmann::json;

namespace {

struct Payload {
  std::string sent;       // the `data` a publisher sends
  std::string delivered;  // what subscribers receive: the same, minus whitespace outside strings
};

std::vector<Payload> payloads() {
  std::vector<Payload> out;
  for (std::string same : std::initializer_list<std::string>{
           R"({"id":18446744073709551617})",
           "123456789012345678901234567890",
           "-123456789012345678901234567890.000000000000000000001",
           R"({"x":1e400})",
           "[1E+2,1e-400,2.50,1.0]",
           "-0",
           R"({"z":1,"a":2})",
           R"({"a":1,"a":2,"a":{"b":3,"b":4}})",
           R"("\"\\\/\b\f\n\r\t\u0000\u001f\u00E9")",
           R"("\ud83d\ude00\uD83D\uDE00")",
           "\"\xf0\x9f\x98\x80 \xc3\xa9 \xe2\x82\xac\"",
           R"("data: not a line\r\n\r\nevent: x")",
           R"(["]","}",",\"data\":"])",
           "null",
           std::string(63, '[') + "\"deep\"" + std::string(63, ']'),  // the request object is level 1
       })
    out.push_back({same, same});
  out.push_back({"{ \"a\" : [ 1 , 2 ] ,\n  \"b\" :\t\" kept  \\n \" }\r\n", R"({"a":[1,2],"b":" kept  \n "})"});
  return out;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A message push carrying `data` as its exact text, as the room's message `offset`. Between
// "from": and the offset is the publisher's user id.
void expect_push(const std::string& frame, const std::string& room, const std::string& data, std::uint64_t offset) {
  EXPECT_EQ(frame.rfind(R"({"type":"message","room":")" + room + R"(","data":)" + data + R"(,"from":")", 0), 0u)
      << frame;
  EXPECT_TRUE(ends_with(frame, R"(","offset":)" + std::to_string(offset) + "}")) << frame;
}

// Publishes every payload twice (over a WebSocket, then POST /api/publish) on `publishing`, and
// checks what subscribers of `subscribing` receive, live and afterwards.
void round_trip_everywhere(TestNode& publishing, TestNode& subscribing) {
  const std::string room = "payloads";
  WsClient subscriber(subscribing.port());
  json subscribed = subscriber.request({{"op", "subscribe"}, {"room", room}});
  ASSERT_EQ(subscribed["ok"], true) << subscribed;
  const json since = {{"offset", subscribed["offset"]}, {"epoch", subscribed["epoch"]}};
  SseClient sse(subscribing.port(), "/sse?rooms=" + room);
  ASSERT_EQ(sse.status(), 200);
  ASSERT_EQ(json::parse(sse.next().data)["type"], "subscribed");
  WsClient publisher(publishing.port());

  std::vector<std::string> pushes;  // the pushes received, in order
  auto expect_delivered = [&](const std::string& data, const char* how) {
    SCOPED_TRACE(how);
    std::uint64_t offset = pushes.size() + 1;
    std::string frame = subscriber.read_text();
    expect_push(frame, room, data, offset);
    EXPECT_EQ(sse.next().data, frame);  // the same bytes on the event stream, on one data: line
    pushes.push_back(frame);
  };
  int id = 0;
  for (const auto& payload : payloads()) {
    SCOPED_TRACE(payload.sent);
    publisher.send_text(R"({"op":"publish","id":)" + std::to_string(++id) + R"(,"room":")" + room +
                        R"(","data":)" + payload.sent + "}");
    EXPECT_EQ(publisher.read_json(), (json{{"id", id}, {"ok", true}, {"offset", pushes.size() + 1}}));
    expect_delivered(payload.delivered, "published over a WebSocket");
    auto posted = http_request(publishing.port(), "POST", "/api/publish", {{"Content-Type", "application/json"}},
                               R"({"room":")" + room + R"(","data":)" + payload.sent + "}");
    EXPECT_EQ(posted.status, 200) << posted.body;
    expect_delivered(payload.delivered, "posted to /api/publish");
  }
  ASSERT_FALSE(pushes.empty());
  std::string all;
  for (const auto& push : pushes) all += (all.empty() ? "" : ",") + push;

  // The history op and GET /api/history return the pushes as they were delivered.
  WsClient reader(subscribing.port());
  reader.send_text(R"({"op":"history","id":"h","room":")" + room + R"(","limit":1000})");
  std::string history = reader.read_text();
  EXPECT_EQ(history.rfind(R"({"id":"h","ok":true,"offset":)" + std::to_string(pushes.size()) + ",", 0), 0u) << history;
  EXPECT_TRUE(ends_with(history, "\"messages\":[" + all + "]}")) << history;
  auto api_history = http_request(subscribing.port(), "GET", "/api/history?room=" + room + "&limit=1000");
  EXPECT_EQ(api_history.status, 200) << api_history.body;
  EXPECT_TRUE(ends_with(api_history.body, "\"messages\":[" + all + "]}")) << api_history.body;

  // Recovery replays them as they were delivered: on a WebSocket subscribe with since…
  WsClient late(publishing.port());
  json resubscribed = late.request({{"op", "subscribe"}, {"room", room}, {"since", since}});
  EXPECT_EQ(resubscribed["recovered"], true) << resubscribed;
  for (const auto& push : pushes) EXPECT_EQ(late.read_text(), push);
  // … and on an event stream resumed with Last-Event-ID.
  SseClient resumed(publishing.port(), "/sse?rooms=" + room,
                    {.headers = {{"Last-Event-ID", room + "=" + std::to_string(since["offset"].get<std::uint64_t>()) +
                                                       "." + since["epoch"].get<std::string>()}}});
  ASSERT_EQ(resumed.status(), 200);
  EXPECT_EQ(json::parse(resumed.next().data)["recovered"], true);
  for (const auto& push : pushes) EXPECT_EQ(resumed.next().data, push);
}

}  // namespace

TEST(Payload, DeliveredAsSentOnOneNode) {
  TestNode node;
  round_trip_everywhere(node, node);
}

TEST(Payload, DeliveredAsSentAcrossTwoNodesThroughRedis) {
  RedisServer redis;
  TestNode a(cluster_config(redis)), b(cluster_config(redis));
  wait_ready(a);
  wait_ready(b);
  round_trip_everywhere(a, b);
}

TEST(Payload, InvalidDataRefusedOnEveryPath) {
  TestNode node;
  WsClient client(node.port());
  // Not one JSON value: bad_json, as before.
  client.send_text(R"({"op":"publish","id":1,"room":"r","data":[1,]})");
  EXPECT_EQ(client.read_json()["error"]["code"], "bad_json");
  // An HTTP body is not UTF-8 checked by anyone else: invalid UTF-8 in a string is bad_json too.
  auto posted = http_request(node.port(), "POST", "/api/publish", {{"Content-Type", "application/json"}},
                             "{\"room\":\"r\",\"data\":\"\xed\xa0\x80\"}");
  EXPECT_EQ(posted.status, 400);
  EXPECT_EQ(json::parse(posted.body)["error"]["code"], "bad_json");
  // Nesting past 64 levels is still refused.
  client.send_text(R"({"op":"publish","id":2,"room":"r","data":)" + std::string(64, '[') + std::string(64, ']') + "}");
  EXPECT_EQ(client.read_json()["error"]["code"], "bad_request");
}

}  // namespace payload_test
