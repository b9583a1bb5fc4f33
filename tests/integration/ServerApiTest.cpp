// The server API (POST /api/disconnect, /api/unsubscribe, /api/broadcast, GET /api/rooms,
// /api/presence-stats, /api/users/{id}): on the embedded bus, and across three nodes sharing a real
// redis-server, where the call on one node acts on (and asks) every node through the control
// channel.
#include <gtest/gtest.h>

#include "BrokerNodes.h"
#include "RedisServer.h"
#include "TestNode.h"
#include "TestToken.h"
#include "WsClient.h"

namespace server_api_test {  // this suite's own names: the sanitizer builds compile suites together

using namespace switchboard;
using namespace switchboard::test;
using nlohmann::json;

namespace {

const std::string kApiKey = "server-api-test-key-0123456789";
const std::string kSecret = "server-api-test-secret";

class ServerApi : public BrokerNodes {
 protected:
  void SetUp() override {
    start(3);
    if (HasFatalFailure()) return;
    // Every node answers the control channel (subscribed, and listed among the live nodes).
    std::size_t n = node_count();
    ASSERT_TRUE(eventually([&] {
      auto r = call(a(), "GET", "/api/users/nobody");
      if (r.status != 200) return false;
      auto nodes = json::parse(r.body)["nodes"];
      return nodes["answered"] == n && nodes["known"] == n;
    }, std::chrono::seconds(10)));
  }

  server::Config config() const override {
    auto c = TestNode::jwt_config(kSecret);
    c.api_keys = kApiKey;
    return with_broker(c);
  }
  // Three nodes in a cluster; the one node thrice on the embedded bus.
  TestNode& a() { return node(0); }
  TestNode& b() { return node(1); }
  TestNode& c() { return node(2); }

  static HttpResponse call(TestNode& node, std::string_view method, std::string_view target, const json& body = nullptr,
                           const std::string& key = kApiKey) {
    std::map<std::string, std::string> headers{{"Authorization", "Bearer " + key}};
    if (!body.is_null()) headers["Content-Type"] = "application/json";
    return http_request(node.port(), method, target, headers, body.is_null() ? "" : body.dump());
  }
  static WsClient::Options as(const std::string& user, const json& extra = json::object()) {
    WsClient::Options o;
    o.headers["Authorization"] = "Bearer " + user_token(kSecret, user, extra);
    return o;
  }
  static void subscribe(WsClient& client, const std::string& room) {
    auto reply = client.request({{"op", "subscribe"}, {"room", room}});
    ASSERT_EQ(reply["ok"], true) << reply;
  }
  json expected_nodes() const { return {{"answered", node_count()}, {"known", node_count()}}; }
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Broker, ServerApi, ::testing::Values(false, true), BrokerNodes::broker_name);

TEST_P(ServerApi, DisconnectClosesEveryConnectionOfTheUserOnEveryNode) {
  WsClient alice_a(a().port(), as("alice")), alice_c(c().port(), as("alice")), bob(c().port(), as("bob"));
  // Open on their nodes (their pings answered) before the call.
  for (WsClient* client : {&alice_a, &alice_c, &bob}) ASSERT_EQ(client->request({{"op", "ping"}})["ok"], true);
  auto r = call(b(), "POST", "/api/disconnect", {{"user", "alice"}, {"reason", "account closed"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body), (json{{"ok", true}, {"closed", 2}, {"nodes", expected_nodes()}}));
  for (WsClient* alice : {&alice_a, &alice_c}) {
    auto closed = alice->read_until_closed();
    EXPECT_TRUE(closed.closed);
    EXPECT_EQ(closed.code, 4003);
    EXPECT_EQ(closed.reason, "account closed");
  }
  EXPECT_EQ(bob.request({{"op", "ping"}})["ok"], true);
  // Without "until", alice may come back at once.
  WsClient again(c().port(), as("alice"));
  EXPECT_TRUE(again.is_open());
  EXPECT_GE(b().metrics().api_requests("disconnect", 200), 1u);
}

TEST_P(ServerApi, TheDenyListRefusesTheUsersHandshakesOnEveryNode) {
  WsClient alice(c().port(), as("alice"));
  // Open on their nodes (their pings answered) before the call.
  for (WsClient* client : {&alice}) ASSERT_EQ(client->request({{"op", "ping"}})["ok"], true);
  auto until = unix_time(600);
  auto r = call(a(), "POST", "/api/disconnect", {{"user", "alice"}, {"until", until}, {"code", 4010}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["until"], until);
  EXPECT_EQ(alice.read_until_closed().code, 4010);
  for (TestNode* node : {&a(), &b(), &c()}) {
    auto refused = WsClient::try_handshake(node->port(), as("alice"));
    EXPECT_EQ(refused.status, 403) << refused.body;
    EXPECT_EQ(json::parse(refused.body)["error"]["code"], "revoked") << refused.body;
  }
  // The probe a browser's client asks says why too.
  auto probe = http_request(c().port(), "GET", "/ws?token=" + user_token(kSecret, "alice"));
  EXPECT_EQ(probe.status, 403);
  EXPECT_EQ(json::parse(probe.body)["error"]["code"], "revoked");
  EXPECT_EQ(WsClient::try_handshake(c().port(), as("bob")).status, 101);
}

TEST_P(ServerApi, TheDenyListEntryRunsOut) {
  // A second ahead (DenyListTest checks the refusal up to the time): alice is admitted once it passed.
  ASSERT_EQ(call(a(), "POST", "/api/disconnect", {{"user", "alice"}, {"until", unix_time(1)}}).status, 200);
  EXPECT_TRUE(eventually([&] { return WsClient::try_handshake(c().port(), as("alice")).status == 101; },
                         std::chrono::seconds(10)));
}

TEST_P(ServerApi, TheDenyListRefusesOneTokenById) {
  WsClient first(c().port(), as("alice", {{"jti", "token-1"}})), second(c().port(), as("alice", {{"jti", "token-2"}}));
  // Open on their nodes (their pings answered) before the call.
  for (WsClient* client : {&first, &second}) ASSERT_EQ(client->request({{"op", "ping"}})["ok"], true);
  auto r = call(a(), "POST", "/api/disconnect", {{"jti", "token-1"}, {"until", unix_time(600)}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["closed"], 1);
  EXPECT_EQ(first.read_until_closed().code, 4003);
  EXPECT_EQ(second.request({{"op", "ping"}})["ok"], true);
  for (TestNode* node : {&a(), &c()}) {
    EXPECT_EQ(WsClient::try_handshake(node->port(), as("alice", {{"jti", "token-1"}})).status, 403);
    EXPECT_EQ(WsClient::try_handshake(node->port(), as("alice", {{"jti", "token-2"}})).status, 101);
  }
}

TEST_P(ServerApi, ANodeThatStartsLaterKnowsTheDenyList) {
  if (!clustered()) GTEST_SKIP() << "a node alone starts with nothing to know";
  ASSERT_EQ(call(a(), "POST", "/api/disconnect", {{"user", "mallory"}, {"until", unix_time(600)}}).status, 200);
  TestNode late(config());
  wait_ready(late);
  EXPECT_TRUE(eventually([&] { return WsClient::try_handshake(late.port(), as("mallory")).status == 403; }));
  EXPECT_EQ(WsClient::try_handshake(late.port(), as("bob")).status, 101);
}

TEST_P(ServerApi, UnsubscribeTakesTheUserOutOfTheRoomOnEveryNode) {
  WsClient alice_a(a().port(), as("alice")), alice_c(c().port(), as("alice")), bob(c().port(), as("bob"));
  // Open on their nodes (their pings answered) before the call.
  for (WsClient* client : {&alice_a, &alice_c, &bob}) ASSERT_EQ(client->request({{"op", "ping"}})["ok"], true);
  for (WsClient* client : {&alice_a, &alice_c, &bob}) subscribe(*client, "chat:lobby");
  subscribe(alice_a, "chat:other");
  auto r = call(b(), "POST", "/api/unsubscribe", {{"user", "alice"}, {"room", "chat:lobby"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body), (json{{"ok", true}, {"unsubscribed", 2}, {"nodes", expected_nodes()}}));
  for (WsClient* alice : {&alice_a, &alice_c}) {
    auto push = alice->read_json();
    EXPECT_EQ(push["type"], "unsubscribed") << push;
    EXPECT_EQ(push["room"], "chat:lobby");
    EXPECT_EQ(push["code"], "forbidden");
  }
  ASSERT_EQ(bob.request({{"op", "publish"}, {"room", "chat:lobby"}, {"data", "after"}})["ok"], true);
  EXPECT_EQ(bob.read_json()["data"], "after");
  ASSERT_EQ(bob.request({{"op", "publish"}, {"room", "chat:other"}, {"data", "still"}})["ok"], true);
  EXPECT_EQ(alice_a.read_json()["data"], "still");  // nothing of chat:lobby before it
  EXPECT_TRUE(alice_c.quiet_for(std::chrono::milliseconds(100)));
  // Nobody to take out: 0.
  r = call(a(), "POST", "/api/unsubscribe", {{"user", "alice"}, {"room", "chat:lobby"}});
  EXPECT_EQ(json::parse(r.body)["unsubscribed"], 0);
}

TEST_P(ServerApi, BroadcastPublishesToEveryRoomOnceWithItsIdem) {
  WsClient one(a().port(), as("u1")), two(c().port(), as("u2"));
  // Open on their nodes (their pings answered) before the call.
  for (WsClient* client : {&one, &two}) ASSERT_EQ(client->request({{"op", "ping"}})["ok"], true);
  subscribe(one, "news:one");
  subscribe(two, "news:two");
  ASSERT_EQ(call(a(), "POST", "/api/publish", {{"room", "news:two"}, {"data", "first"}}).status, 200);
  EXPECT_EQ(two.read_json()["data"], "first");
  json body = {{"rooms", {"news:one", "news:two", "news:nobody"}}, {"data", {{"n", 1}}}, {"idem", "bc-1"},
               {"from", "ops"}};
  auto r = call(b(), "POST", "/api/broadcast", body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body),
            (json{{"ok", true}, {"offsets", {{"news:one", 1}, {"news:two", 2}, {"news:nobody", 1}}}}));
  auto m = one.read_json();
  EXPECT_EQ(m["data"], (json{{"n", 1}}));
  EXPECT_EQ(m["from"], "ops");
  EXPECT_EQ(two.read_json()["room"], "news:two");
  // Sent again with the same idem (a retry): the same offsets, nothing delivered twice.
  r = call(c(), "POST", "/api/broadcast", body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["offsets"]["news:two"], 2);
  // A room retried alone through POST /api/publish with the same idem: the API keys' key, the same offset.
  r = call(a(), "POST", "/api/publish", {{"room", "news:one"}, {"data", {{"n", 1}}}, {"idem", "bc-1"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["offset"], 1);
  EXPECT_TRUE(one.quiet_for(std::chrono::milliseconds(100)));
  EXPECT_TRUE(two.quiet_for(std::chrono::milliseconds(100)));

  json rooms = json::array();
  for (int i = 0; i < 101; ++i) rooms.push_back("r" + std::to_string(i));
  auto bad = [&](const json& b) { return call(a(), "POST", "/api/broadcast", b); };
  r = bad({{"rooms", rooms}, {"data", 1}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "bad_request");
  EXPECT_EQ(json::parse(bad({{"rooms", {"a", "a"}}, {"data", 1}}).body)["error"]["code"], "bad_request");
  EXPECT_EQ(json::parse(bad({{"rooms", {"a", "b c"}}, {"data", 1}}).body)["error"]["code"], "bad_room");
  EXPECT_EQ(json::parse(bad({{"rooms", {"a"}}}).body)["error"]["code"], "bad_request");
  auto not_json = http_request(a().port(), "POST", "/api/broadcast", {{"Authorization", "Bearer " + kApiKey}}, "{");
  EXPECT_EQ(json::parse(not_json.body)["error"]["code"], "bad_json");
}

TEST_P(ServerApi, RoomsAreListedByPatternAndPaged) {
  WsClient u1(a().port(), as("u1")), u2(c().port(), as("u2"));
  subscribe(u1, "chat:a");
  subscribe(u1, "chat:b");
  subscribe(u2, "chat:b");
  subscribe(u2, "chat:c");
  subscribe(u2, "news:x");
  auto page = [&](const std::string& query) {
    auto r = call(b(), "GET", "/api/rooms" + query);
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body);
  };
  auto first = page("?pattern=chat:*&limit=2");
  EXPECT_EQ(first["rooms"], (json{{{"room", "chat:a"}, {"subscribers", 1}}, {{"room", "chat:b"}, {"subscribers", 2}}}));
  EXPECT_EQ(first["cursor"], "chat:b");
  EXPECT_EQ(first["nodes"], expected_nodes());
  auto second = page("?pattern=chat:*&limit=2&cursor=chat:b");
  EXPECT_EQ(second["rooms"], (json{{{"room", "chat:c"}, {"subscribers", 1}}}));
  EXPECT_TRUE(second["cursor"].is_null()) << second;
  auto all = page("");
  EXPECT_EQ(all["rooms"].size(), 4u);
  EXPECT_EQ(page("?pattern=*:x")["rooms"], (json{{{"room", "news:x"}, {"subscribers", 1}}}));
  EXPECT_EQ(call(a(), "GET", "/api/rooms?limit=0").status, 400);
  EXPECT_EQ(call(a(), "GET", "/api/rooms?limit=1001").status, 400);
}

TEST_P(ServerApi, PresenceStatsCountConnectionsAndUsers) {
  WsClient alice_a(a().port(), as("alice")), alice_c(c().port(), as("alice")), bob(c().port(), as("bob"));
  // Open on their nodes (their pings answered) before the call.
  for (WsClient* client : {&alice_a, &alice_c, &bob}) ASSERT_EQ(client->request({{"op", "ping"}})["ok"], true);
  for (WsClient* client : {&alice_a, &alice_c, &bob}) subscribe(*client, "chat:stats");
  json expected = {{"ok", true}, {"room", "chat:stats"}, {"connections", 3}, {"users", 2}};
  EXPECT_TRUE(eventually([&] {
    auto r = call(b(), "GET", "/api/presence-stats?room=chat%3Astats");
    return r.status == 200 && json::parse(r.body) == expected;
  })) << call(b(), "GET", "/api/presence-stats?room=chat:stats").body;
  auto empty = json::parse(call(a(), "GET", "/api/presence-stats?room=chat:empty").body);
  EXPECT_EQ(empty, (json{{"ok", true}, {"room", "chat:empty"}, {"connections", 0}, {"users", 0}}));
  EXPECT_EQ(json::parse(call(a(), "GET", "/api/presence-stats").body)["error"]["code"], "bad_request");
  EXPECT_EQ(json::parse(call(a(), "GET", "/api/presence-stats?room=a%20b").body)["error"]["code"], "bad_room");
}

TEST_P(ServerApi, UsersTellWhetherAUserIsOnlineWithItsConnectionsAndRooms) {
  WsClient alice_a(a().port(), as("alice")), alice_c(c().port(), as("alice")), spaced(a().port(), as("j doe"));
  // Open on their nodes (their pings answered) before the call.
  for (WsClient* client : {&alice_a, &alice_c, &spaced}) ASSERT_EQ(client->request({{"op", "ping"}})["ok"], true);
  subscribe(alice_a, "chat:b");
  subscribe(alice_c, "chat:a");
  subscribe(alice_c, "chat:b");
  auto r = call(b(), "GET", "/api/users/alice");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body), (json{{"ok", true}, {"user", "alice"}, {"online", true}, {"connections", 2},
                                       {"rooms", {"chat:a", "chat:b"}}, {"nodes", expected_nodes()}}));
  auto spaced_answer = json::parse(call(c(), "GET", "/api/users/j%20doe").body);
  EXPECT_EQ(spaced_answer["online"], true) << spaced_answer;
  EXPECT_EQ(spaced_answer["rooms"], json::array());
  auto nobody = json::parse(call(a(), "GET", "/api/users/nobody").body);
  EXPECT_EQ(nobody, (json{{"ok", true}, {"user", "nobody"}, {"online", false}, {"connections", 0},
                          {"rooms", json::array()}, {"nodes", expected_nodes()}}));
  EXPECT_EQ(call(a(), "GET", "/api/users/").status, 400);
  // Any bytes: an id that is not UTF-8 is asked for (and answered) all the same.
  auto odd = call(b(), "GET", "/api/users/%FF%FE");
  EXPECT_EQ(odd.status, 200) << odd.body;
  EXPECT_GE(b().metrics().api_requests("users", 200), 1u);
}

TEST_P(ServerApi, OnlyApiKeysMayUseIt) {
  auto token = user_token(kSecret, "alice");
  for (auto [method, target] : {std::pair{"POST", "/api/disconnect"}, {"POST", "/api/unsubscribe"},
                                {"POST", "/api/broadcast"}, {"GET", "/api/rooms"},
                                {"GET", "/api/presence-stats?room=x"}, {"GET", "/api/users/alice"}}) {
    auto r = call(a(), method, target, json::object(), token);
    EXPECT_EQ(r.status, 403) << target << " " << r.body;
    EXPECT_EQ(json::parse(r.body)["error"]["code"], "forbidden");
    r = http_request(a().port(), method, target);
    EXPECT_EQ(r.status, 401) << target;
    r = call(a(), std::string(method) == "GET" ? "POST" : "GET", target);
    EXPECT_EQ(r.status, 405) << target;
  }
  auto bad = [&](const json& body) { return json::parse(call(a(), "POST", "/api/disconnect", body).body); };
  EXPECT_EQ(bad(json::object())["error"]["code"], "bad_request");
  EXPECT_EQ(bad({{"user", "a"}, {"code", 1000}})["error"]["code"], "bad_request");
  EXPECT_EQ(bad({{"user", "a"}, {"until", "soon"}})["error"]["code"], "bad_request");
  EXPECT_EQ(bad({{"user", "a"}, {"until", unix_time(400 * 24 * 3600)}})["error"]["code"], "bad_request");
  EXPECT_EQ(bad({{"user", ""}})["error"]["code"], "bad_request");
  EXPECT_EQ(json::parse(call(a(), "POST", "/api/unsubscribe", {{"user", "a"}, {"room", "a b"}}).body)["error"]["code"],
            "bad_room");
  EXPECT_EQ(a().metrics().api_requests("disconnect", 403), 1u);
  EXPECT_EQ(a().metrics().api_requests("users", 401), 1u);
}

}  // namespace server_api_test
