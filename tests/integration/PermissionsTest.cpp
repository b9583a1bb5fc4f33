// What a token allows in which rooms (its "rooms" claim, the node's default grants), and how a
// live connection renews its token: the refresh push, the refresh op, and 4001 without one.
#include <gtest/gtest.h>
#include <sstream>

#include "TestNode.h"
#include "TestToken.h"
#include "WsClient.h"
#include "switchboard/server/Log.h"

namespace permissions_test {  // this suite's own names: the sanitizer builds compile suites together

using namespace switchboard;
using namespace switchboard::test;
using nlohmann::json;

namespace {

const std::string kSecret = "permissions-test-secret-0123456789";

server::Config jwt_config() { return TestNode::jwt_config(kSecret); }

std::string token(const std::string& user, const json& extra = json::object(), long long ttl = 3600) {
  return user_token(kSecret, user, extra, ttl);
}

WsClient::Options with_token(const std::string& t) {
  WsClient::Options o;
  o.target = "/ws?token=" + t;
  return o;
}

std::string error_code(const json& reply) { return reply.contains("error") ? reply["error"]["code"].get<std::string>() : ""; }

json sub(const std::string& room, bool presence = false) {
  return {{"op", "subscribe"}, {"room", room}, {"presence", presence}};
}
json pub(const std::string& room, json data = "hi") { return {{"op", "publish"}, {"room", room}, {"data", data}}; }

}  // namespace

TEST(Permissions, RoomsClaimGrantsPerActionAndPattern) {
  TestNode node(jwt_config());
  json rooms = {{"sub", {"chat:*", "user:{sub}"}}, {"pub", {"chat:general"}}, {"presence", {"chat:*"}}};
  WsClient alice(node.port(), with_token(token("alice", {{"rooms", rooms}})));

  EXPECT_EQ(alice.request(sub("chat:random"))["ok"], true);
  EXPECT_EQ(alice.request(sub("user:alice"))["ok"], true);  // {sub} is her own id
  auto denied = alice.request(sub("user:bob"));
  EXPECT_EQ(error_code(denied), "forbidden");
  EXPECT_NE(denied["error"]["message"].get<std::string>().find("user:bob"), std::string::npos);
  EXPECT_EQ(error_code(alice.request(sub("other"))), "forbidden");
  // Presence events need the presence right too.
  EXPECT_EQ(error_code(alice.request(sub("user:alice", true))), "forbidden");
  EXPECT_EQ(error_code(alice.request({{"op", "presence"}, {"room", "user:alice"}})), "forbidden");
  EXPECT_EQ(alice.request({{"op", "presence"}, {"room", "chat:random"}})["ok"], true);

  EXPECT_EQ(error_code(alice.request(pub("chat:random"))), "forbidden");
  alice.request(sub("chat:general"));
  EXPECT_EQ(alice.request(pub("chat:general"))["ok"], true);
  EXPECT_EQ(alice.read_json()["type"], "message");  // allowed: delivered

  // The connection stays usable after every refusal, and each is counted.
  EXPECT_EQ(alice.request({{"op", "ping"}})["ok"], true);
  EXPECT_EQ(node.metrics().errors(protocol::ErrorCode::forbidden), 5u);
}

TEST(Permissions, TokensWithoutRoomsClaimMayUseEveryRoom) {
  TestNode node(jwt_config());
  WsClient bob(node.port(), with_token(token("bob")));
  EXPECT_EQ(bob.request(sub("anything:at/all", true))["ok"], true);
  EXPECT_EQ(bob.read_json()["type"], "join");
  EXPECT_EQ(bob.request(pub("elsewhere"))["ok"], true);
}

TEST(Permissions, NodeDefaultsAddToEveryToken) {
  auto config = jwt_config();
  config.default_rooms = R"({"sub":["public:*"],"presence":["public:*"]})";
  TestNode node(config);
  WsClient carol(node.port(), with_token(token("carol", {{"rooms", {{"pub", {"inbox:{sub}"}}}}})));
  EXPECT_EQ(carol.request(sub("public:lobby", true))["ok"], true);
  EXPECT_EQ(carol.read_json()["type"], "join");
  EXPECT_EQ(error_code(carol.request(pub("public:lobby"))), "forbidden");
  EXPECT_EQ(carol.request(pub("inbox:carol"))["ok"], true);
  EXPECT_EQ(error_code(carol.request(sub("inbox:carol"))), "forbidden");
}

TEST(Permissions, AnonymousConnectionsGetTheAnonymousGrant) {
  auto config = TestNode::default_config();
  config.anonymous_rooms = R"({"sub":["lobby"]})";
  TestNode node(config);
  WsClient guest(node.port());
  EXPECT_EQ(guest.request(sub("lobby"))["ok"], true);
  EXPECT_EQ(error_code(guest.request(pub("lobby"))), "forbidden");
  EXPECT_EQ(error_code(guest.request(sub("staff"))), "forbidden");
}

TEST(Permissions, MalformedRoomsClaimIsRefusedAtTheHandshake) {
  TestNode node(jwt_config());
  auto r = WsClient::try_handshake(node.port(), with_token(token("eve", {{"rooms", {{"sub", "chat:*"}}}})));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "bad_token");
}

TEST(TokenLifetime, RefreshKeepsTheConnectionAndUnrefreshedOnesCloseWith4001) {
  TestNode node(jwt_config());
  // Both tokens expire in 2 s: the node asks each for a new one about 1 s in.
  WsClient keeper(node.port(), with_token(token("kim", json::object(), 2)));
  WsClient lapser(node.port(), with_token(token("lee", json::object(), 2)));
  keeper.set_deadline(std::chrono::seconds(10));
  lapser.set_deadline(std::chrono::seconds(10));

  json push = keeper.read_json();
  EXPECT_EQ(push["type"], "refresh");
  EXPECT_GE(push["exp"].get<long long>(), unix_time(0));
  EXPECT_EQ(keeper.request({{"op", "refresh"}, {"token", token("kim")}})["ok"], true);

  EXPECT_EQ(lapser.read_json()["type"], "refresh");
  auto closed = lapser.read_until_closed();  // no new token: closed when the old one expires
  EXPECT_TRUE(closed.closed);
  EXPECT_EQ(closed.code, 4001);
  EXPECT_EQ(closed.reason, "token expired");
  // The refreshed connection, whose first token expired at the same moment, is still served.
  EXPECT_EQ(keeper.request({{"op", "ping"}})["ok"], true);
  EXPECT_TRUE(keeper.is_open());
  EXPECT_EQ(node.metrics().closes(4001), 1u);
}

TEST(TokenLifetime, RefreshIsCheckedLikeAHandshake) {
  TestNode node(jwt_config());
  WsClient kim(node.port(), with_token(token("kim")));
  auto other_user = kim.request({{"op", "refresh"}, {"token", token("someone-else")}});
  EXPECT_EQ(error_code(other_user), "forbidden");
  auto expired = kim.request({{"op", "refresh"}, {"token", token("kim", json::object(), -60)}});
  EXPECT_EQ(error_code(expired), "bad_token");
  EXPECT_EQ(expired["error"]["message"].get<std::string>().rfind("expired", 0), 0u);
  auto forged = kim.request({{"op", "refresh"}, {"token", mint_hs256("wrong-secret", {{"sub", "kim"}, {"exp", unix_time(60)}})}});
  EXPECT_EQ(error_code(forged), "bad_token");
  EXPECT_EQ(error_code(kim.request({{"op", "refresh"}})), "bad_request");
  EXPECT_EQ(error_code(kim.request({{"op", "refresh"}, {"token", 5}})), "bad_request");
  EXPECT_TRUE(kim.is_open());
}

TEST(TokenLifetime, RefreshedPermissionsReplaceTheOldOnes) {
  TestNode node(jwt_config());
  json wide = {{"sub", {"a", "b", "c"}}, {"pub", {"*"}}, {"presence", {"c"}}};
  WsClient kim(node.port(), with_token(token("kim", {{"rooms", wide}})));
  WsClient pal(node.port(), with_token(token("pal")));
  for (auto room : {"a", "b"}) kim.request(sub(room));
  kim.request(sub("c", true));
  EXPECT_EQ(kim.read_json()["type"], "join");

  // The new token keeps "a", and "c" without presence: "b" and the presence subscription to "c" end.
  json narrow = {{"sub", {"a", "c"}}, {"pub", {"a"}}};
  kim.send_json({{"op", "refresh"}, {"id", 9}, {"token", token("kim", {{"rooms", narrow}})}});
  std::map<std::string, json> ended;
  for (;;) {
    json frame = kim.read_json();
    if (frame.contains("id")) {
      EXPECT_EQ(frame["ok"], true);
      break;
    }
    EXPECT_EQ(frame["type"], "unsubscribed");
    EXPECT_EQ(frame["code"], "forbidden");
    ended[frame["room"]] = frame;
  }
  EXPECT_EQ(ended.size(), 2u);
  EXPECT_TRUE(ended.count("b"));
  EXPECT_TRUE(ended.count("c"));

  // From now on: nothing from "b", messages from "a", and only the new publish rights.
  pal.request(pub("b", "lost"));
  pal.request(pub("a", "kept"));
  EXPECT_EQ(kim.read_json()["data"], "kept");
  EXPECT_EQ(error_code(kim.request(pub("b"))), "forbidden");
  EXPECT_EQ(error_code(kim.request(sub("b"))), "forbidden");
  EXPECT_EQ(kim.request(sub("c"))["ok"], true);
}

TEST(TokenLifetime, AnonymousConnectionsHaveNoTokenToRefresh) {
  TestNode node;
  WsClient guest(node.port());
  EXPECT_EQ(error_code(guest.request({{"op", "refresh"}, {"token", "a.b.c"}})), "bad_token");
  EXPECT_TRUE(guest.quiet_for(std::chrono::milliseconds(50)));  // and no refresh push ever
}

// A user id is the token's choice: logged, it cannot end the line and write one of its own.
TEST(TokenLifetime, AUserIdCannotForgeALogLine) {
  TestNode node(jwt_config());
  const std::string forged = "2026-01-01T00:00:00.000Z error FORGED by the token";
  server::log::set_level("info");
  testing::internal::CaptureStderr();
  {
    WsClient eve(node.port(), with_token(token("eve\n" + forged + "\r\\x0A", json::object(), 1)));
    eve.set_deadline(std::chrono::seconds(10));
    auto closed = eve.read_until_closed();  // the expiry is logged before the close is sent
    EXPECT_EQ(closed.code, 4001);
  }
  std::string log = testing::internal::GetCapturedStderr();
  server::log::set_level("warn");
  EXPECT_NE(log.find("(eve\\x0A" + forged + "\\x0D\\x5Cx0A): token expired\n"), std::string::npos) << log;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) EXPECT_NE(line.rfind(forged, 0), 0u) << line;
}

}  // namespace permissions_test
