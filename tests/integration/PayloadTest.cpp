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
#include <stdexcept>
#include <string>
#include <vector>

#include "RedisServer.h"
#include "SseClient.h"
#include "switchboard/protocol/BinaryData.h"
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

// A WebSocket subscriber of `room` on `node`, the position it subscribed at, and an event stream
// of the room, both past their subscribe (else it throws, which fails the test).
struct Audience {
  Audience(TestNode& node, const std::string& room) : ws(node.port()), sse(node.port(), "/sse?rooms=" + room) {
    json subscribed = ws.request({{"op", "subscribe"}, {"room", room}});
    if (subscribed["ok"] != true) throw std::runtime_error("subscribe failed: " + subscribed.dump());
    since = {{"offset", subscribed["offset"]}, {"epoch", subscribed["epoch"]}};
    if (sse.status() != 200 || json::parse(sse.next().data)["type"] != "subscribed")
      throw std::runtime_error("the event stream did not subscribe");
  }
  WsClient ws;
  SseClient sse;
  json since;
};

// Publishes every payload twice (over a WebSocket, then POST /api/publish) on `publishing`, and
// checks what subscribers of `subscribing` receive, live and afterwards.
void round_trip_everywhere(TestNode& publishing, TestNode& subscribing) {
  const std::string room = "payloads";
  Audience audience(subscribing, room);
  WsClient& subscriber = audience.ws;
  SseClient& sse = audience.sse;
  const json& since = audience.since;
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

// Bytes published three ways on `publishing` — a binary frame, {"$binary":…} in a text frame,
// and POST /api/publish — reach a WebSocket subscriber of `subscribing` as binary frames, and an
// event stream, history and recovery as {"$binary":"<base64>"}.
void binary_round_trip(TestNode& publishing, TestNode& subscribing) {
  const std::string room = "photos";
  Audience audience(subscribing, room);
  WsClient& subscriber = audience.ws;
  SseClient& sse = audience.sse;
  const json& since = audience.since;
  WsClient publisher(publishing.port());

  std::string large(3000, '\0');  // past the node's copied frames, and a 16-bit length
  for (std::size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>(i * 7);
  const std::vector<std::string> contents{std::string("\x89PNG\r\n\x1a\n\x00\xff", 10), "", large};
  std::vector<std::string> frames, texts;  // what the WebSocket and the event stream received
  auto expect_delivered = [&](const std::string& bytes, const char* how) {
    SCOPED_TRACE(how);
    const std::string offset = std::to_string(frames.size() + 1);
    Frame frame = subscriber.read_frame();
    EXPECT_FALSE(frame.text);
    const std::string header_start = R"({"type":"message","room":")" + room + R"(","from":")";
    const std::string header_end = R"(","offset":)" + offset + "}\n";
    EXPECT_EQ(frame.data.rfind(header_start, 0), 0u) << frame.data.substr(0, 100);
    auto newline = frame.data.find('\n');
    ASSERT_NE(newline, std::string::npos);
    EXPECT_EQ(frame.data.substr(newline + 1 - header_end.size(), header_end.size()), header_end);
    EXPECT_EQ(frame.data.substr(newline + 1), bytes);
    // The event stream's push: the same header's fields, with the bytes as data in base64.
    const std::string from = frame.data.substr(header_start.size(), newline + 1 - header_end.size() - header_start.size());
    const std::string text = R"({"type":"message","room":")" + room + R"(","data":)" + protocol::binary_data(bytes) +
                             R"(,"from":")" + from + R"(","offset":)" + offset + "}";
    EXPECT_EQ(sse.next().data, text);
    frames.push_back(frame.data);
    texts.push_back(text);
  };
  int id = 0;
  for (const auto& bytes : contents) {
    SCOPED_TRACE(bytes.size());
    publisher.send_binary(R"({"op":"publish","id":)" + std::to_string(++id) + R"(,"room":")" + room + "\"}\n" + bytes);
    EXPECT_EQ(publisher.read_json(), (json{{"id", id}, {"ok", true}, {"offset", frames.size() + 1}}));
    expect_delivered(bytes, "a binary frame");
    publisher.send_text(R"({"op":"publish","id":)" + std::to_string(++id) + R"(,"room":")" + room +
                        R"(","data":)" + protocol::binary_data(bytes) + "}");
    EXPECT_EQ(publisher.read_json(), (json{{"id", id}, {"ok", true}, {"offset", frames.size() + 1}}));
    expect_delivered(bytes, "$binary in a text frame");
    auto posted = http_request(publishing.port(), "POST", "/api/publish", {{"Content-Type", "application/json"}},
                               R"({"room":")" + room + R"(","data":)" + protocol::binary_data(bytes) + "}");
    EXPECT_EQ(posted.status, 200) << posted.body;
    expect_delivered(bytes, "POST /api/publish");
  }
  std::string all;
  for (const auto& text : texts) all += (all.empty() ? "" : ",") + text;

  // History, in JSON on every path: the history op on a WebSocket, and GET /api/history.
  WsClient reader(subscribing.port());
  reader.send_text(R"({"op":"history","id":"h","room":")" + room + R"(","limit":1000})");
  std::string history = reader.read_text();
  EXPECT_TRUE(ends_with(history, "\"messages\":[" + all + "]}")) << history.substr(0, 300);
  auto api_history = http_request(subscribing.port(), "GET", "/api/history?room=" + room + "&limit=1000");
  EXPECT_TRUE(ends_with(api_history.body, "\"messages\":[" + all + "]}")) << api_history.body.substr(0, 300);

  // Recovery: binary frames on a WebSocket, base64 on an event stream.
  WsClient late(publishing.port());
  EXPECT_EQ(late.request({{"op", "subscribe"}, {"room", room}, {"since", since}})["recovered"], true);
  for (const auto& frame : frames) {
    Frame got = late.read_frame();
    EXPECT_FALSE(got.text);
    EXPECT_EQ(got.data, frame);
  }
  SseClient resumed(publishing.port(), "/sse?rooms=" + room,
                    {.headers = {{"Last-Event-ID", room + "=" + std::to_string(since["offset"].get<std::uint64_t>()) +
                                                       "." + since["epoch"].get<std::string>()}}});
  ASSERT_EQ(resumed.status(), 200);
  EXPECT_EQ(json::parse(resumed.next().data)["recovered"], true);
  for (const auto& text : texts) EXPECT_EQ(resumed.next().data, text);
}

}  // namespace

TEST(Payload, BinaryDataOnOneNode) {
  TestNode node;
  binary_round_trip(node, node);
}

TEST(Payload, BinaryDataAcrossTwoNodesThroughRedis) {
  RedisServer redis;
  TestNode a(cluster_config(redis)), b(cluster_config(redis));
  wait_ready(a);
  wait_ready(b);
  binary_round_trip(a, b);
}

TEST(Payload, BadBinaryDataRefusedOnEveryPath) {
  TestNode node;
  WsClient client(node.port());
  WsClient subscriber(node.port());
  ASSERT_EQ(subscriber.request({{"op", "subscribe"}, {"room", "r"}})["ok"], true);
  // Not canonical base64, or more than the one member: bad_request, nothing delivered.
  client.send_text(R"({"op":"publish","id":1,"room":"r","data":{"$binary":"aGk"}})");
  EXPECT_EQ(client.read_json()["error"]["code"], "bad_request");
  client.send_text(R"({"op":"publish","id":2,"room":"r","data":{"$binary":"aGk=","name":"x.png"}})");
  EXPECT_EQ(client.read_json()["error"]["code"], "bad_request");
  auto posted = http_request(node.port(), "POST", "/api/publish", {{"Content-Type", "application/json"}},
                             R"({"room":"r","data":{"$binary":"a b="}})");
  EXPECT_EQ(posted.status, 400);
  EXPECT_EQ(json::parse(posted.body)["error"]["code"], "bad_request");
  // A binary frame that is not a publish header, a newline and bytes.
  client.send_binary(R"({"op":"publish","id":3,"room":"r"})");
  EXPECT_EQ(client.read_json()["error"]["code"], "bad_request");
  client.send_binary("{\"op\":\"subscribe\",\"id\":4,\"room\":\"r\"}\n");
  EXPECT_EQ(client.read_json(), (json{{"id", 4}, {"error", {{"code", "bad_request"}, {"message",
      "a binary frame carries a publish; other requests are text frames"}}}}));
  client.send_binary("{\"op\":\"publish\",\"id\":5,\"room\":\"r\",\"data\":1}\nxy");
  EXPECT_EQ(client.read_json()["error"]["code"], "bad_request");
  // None of them was delivered: the next message is the room's first.
  EXPECT_EQ(client.request({{"op", "publish"}, {"room", "r"}, {"data", "after"}})["offset"], 1);
  json first = subscriber.read_json();
  EXPECT_EQ(first["data"], "after");
  EXPECT_EQ(first["offset"], 1);
}

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
