// The HTTP API for backends (POST /api/publish, GET /api/presence), the development token
// endpoint, key reloads, and the token size limit.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "TestNode.h"
#include "TestToken.h"
#include "WsClient.h"
#include "switchboard/auth/JwtSigner.h"

namespace http_api_test {  // this suite's own names: the sanitizer builds compile suites together

using namespace switchboard;
using namespace switchboard::test;
using nlohmann::json;

namespace {

const std::string kSecret = "http-api-test-secret-0123456789";
const std::string kApiKey = "backend-key-0123456789abcdef";

server::Config api_config() {
  auto c = TestNode::default_config();
  c.jwt_secret = kSecret;
  c.api_keys = kApiKey + ",second-key-0123456789abcdef";
  return c;
}

std::string token(const std::string& user, const json& extra = json::object()) { return user_token(kSecret, user, extra); }

HttpResponse post_publish(std::uint16_t port, const std::string& bearer, const std::string& body) {
  std::map<std::string, std::string> headers{{"Content-Type", "application/json"}};
  if (!bearer.empty()) headers["Authorization"] = "Bearer " + bearer;
  return http_request(port, "POST", "/api/publish", headers, body);
}

HttpResponse get_presence(std::uint16_t port, const std::string& bearer, const std::string& query) {
  return http_request(port, "GET", "/api/presence?" + query, {{"Authorization", "Bearer " + bearer}});
}

std::string code_of(const HttpResponse& r) { return json::parse(r.body)["error"]["code"]; }

}  // namespace

TEST(HttpApi, PublishWithAnApiKeyReachesWebSocketSubscribers) {
  TestNode node(api_config());
  WsClient alice(node.port());
  alice.request({{"op", "subscribe"}, {"room", "alerts:ops"}});

  auto r = post_publish(node.port(), kApiKey, R"({"room":"alerts:ops","data":{"level":"high"}})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body), (json{{"ok", true}, {"offset", 1}}));
  EXPECT_EQ(alice.read_json(),
            (json{{"type", "message"}, {"room", "alerts:ops"}, {"data", {{"level", "high"}}}, {"from", "server"}, {"offset", 1}}));

  // An API key may name the sender; the second key works as well.
  r = post_publish(node.port(), "second-key-0123456789abcdef", R"({"room":"alerts:ops","data":1,"from":"billing"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(alice.read_json()["from"], "billing");
  EXPECT_EQ(node.metrics().api_requests("publish", 200), 2u);
  // Counted as every publish is, with the time the broker took to accept it.
  EXPECT_EQ(node.metrics().messages_published.load(), 2u);
  EXPECT_EQ(node.metrics().publish_seconds.count(), 2u);
  EXPECT_NE(http_get(node.port(), "/metrics").body.find(
                R"(switchboard_api_requests_total{endpoint="publish",status="200"} 2)"),
            std::string::npos);
}

TEST(HttpApi, CallersWithoutAValidKeyOrTokenGet401) {
  auto config = api_config();
  config.allow_anonymous = false;
  TestNode node(config);
  const std::string body = R"({"room":"r","data":1})";
  auto missing = post_publish(node.port(), "", body);
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(code_of(missing), "missing_token");
  EXPECT_EQ(missing.header("www-authenticate"), "Bearer");
  auto wrong = post_publish(node.port(), "backend-key-0123456789abcdeX", body);
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(code_of(wrong), "bad_token");
  auto forged = post_publish(node.port(), mint_hs256("not-the-secret", {{"sub", "x"}, {"exp", unix_time(60)}}), body);
  EXPECT_EQ(forged.status, 401);
  EXPECT_EQ(code_of(forged), "bad_signature");
  EXPECT_EQ(get_presence(node.port(), "", "room=r").status, 401);
  EXPECT_EQ(node.metrics().api_requests("publish", 401), 3u);
}

TEST(HttpApi, ANodeThatAllowsAnonymousClientsLetsThemUseTheApiWithTheAnonymousGrant) {
  auto config = api_config();
  config.anonymous_rooms = R"({"sub":["public:*"],"pub":["public:*"],"presence":["public:*"]})";
  TestNode node(config);
  WsClient watcher(node.port());
  watcher.request({{"op", "subscribe"}, {"room", "public:news"}});
  auto r = post_publish(node.port(), "", R"({"room":"public:news","data":1})");
  EXPECT_EQ(r.status, 200) << r.body;
  json push = watcher.read_json();
  EXPECT_EQ(push["from"].get<std::string>().rfind("anon-", 0), 0u) << push;  // a new anonymous user
  EXPECT_EQ(code_of(post_publish(node.port(), "", R"({"room":"private:x","data":1})")), "forbidden");
  EXPECT_EQ(code_of(post_publish(node.port(), "", R"({"room":"public:news","data":1,"from":"boss"})")), "forbidden");
  EXPECT_EQ(get_presence(node.port(), "", "room=public:news").status, 200);
  // The server API is for API keys: without any credential the answer says one is missing.
  auto rooms = http_request(node.port(), "GET", "/api/rooms");
  EXPECT_EQ(rooms.status, 401) << rooms.body;
  EXPECT_EQ(code_of(rooms), "missing_token");
  EXPECT_EQ(code_of(http_request(node.port(), "GET", "/api/rooms", {{"Authorization", "Bearer " + token("alice")}})),
            "forbidden");
}

TEST(HttpApi, TokensMayDoWhatTheirRoomsAllow) {
  TestNode node(api_config());
  WsClient watcher(node.port());
  watcher.request({{"op", "subscribe"}, {"room", "chat:a"}});
  std::string writer = token("writer", {{"rooms", {{"pub", {"chat:*"}}}}});

  auto r = post_publish(node.port(), writer, R"({"room":"chat:a","data":"from a backend job"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(watcher.read_json()["from"], "writer");  // a token publishes as its sub
  auto denied = post_publish(node.port(), writer, R"({"room":"ops","data":1})");
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(code_of(denied), "forbidden");
  auto spoof = post_publish(node.port(), writer, R"({"room":"chat:a","data":1,"from":"admin"})");
  EXPECT_EQ(spoof.status, 403);
  EXPECT_EQ(get_presence(node.port(), writer, "room=chat:a").status, 403);  // no presence right
}

TEST(HttpApi, BadBodiesAreClearErrors) {
  auto config = api_config();
  config.max_message_size = 1024;
  config.max_queue_bytes = 4096;
  TestNode node(config);
  struct Case {
    std::string body;
    int status;
    std::string code;
  };
  for (const auto& c : std::vector<Case>{{"{not json", 400, "bad_json"},
                                         {"[1,2]", 400, "bad_request"},
                                         {R"({"data":1})", 400, "bad_request"},
                                         {R"({"room":"r"})", 400, "bad_request"},
                                         {R"({"room":"bad room!","data":1})", 400, "bad_room"},
                                         {R"({"room":"r","data":1,"from":""})", 400, "bad_request"},
                                         {std::string(100, '[') + std::string(100, ']'), 400, "bad_request"},
                                         {R"({"room":"r","data":")" + std::string(2000, 'x') + "\"}", 413, "too_large"}}) {
    auto r = post_publish(node.port(), kApiKey, c.body);
    EXPECT_EQ(r.status, c.status) << c.body.substr(0, 40);
    EXPECT_EQ(code_of(r), c.code) << c.body.substr(0, 40);
  }
  auto wrong_method = http_request(node.port(), "GET", "/api/publish", {{"Authorization", "Bearer " + kApiKey}});
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(wrong_method.header("allow"), "POST");
  EXPECT_EQ(http_request(node.port(), "POST", "/api/nothing", {}, "{}").status, 404);
  EXPECT_EQ(http_get(node.port(), "/healthz").status, 200);  // the node is fine
}

TEST(HttpApi, PresenceListsTheRoom) {
  TestNode node(api_config());
  WsClient alice(node.port(), [] {
    WsClient::Options o;
    o.target = "/ws?token=" + token("alice", {{"info", {{"name", "Alice"}}}});
    return o;
  }());
  alice.request({{"op", "subscribe"}, {"room", "chat:a/b"}});
  // The room is percent-encoded in the query, as any HTTP client may send it.
  auto r = get_presence(node.port(), kApiKey, "room=chat%3Aa%2Fb");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body), (json{{"ok", true},
                                       {"room", "chat:a/b"},
                                       {"users", {{{"user", "alice"}, {"info", {{"name", "Alice"}}}, {"conns", 1}}}}}));
  EXPECT_EQ(code_of(get_presence(node.port(), kApiKey, "room=no%20spaces")), "bad_room");
  EXPECT_EQ(code_of(get_presence(node.port(), kApiKey, "other=1")), "bad_request");
}

TEST(HttpApi, HistoryReadsTheLatestMessagesOfARoomTheCallerMaySubscribeTo) {
  TestNode node(api_config());
  for (int i = 1; i <= 3; ++i)
    ASSERT_EQ(post_publish(node.port(), kApiKey, R"({"room":"news","data":)" + std::to_string(i) + "}").status, 200);
  auto get = [&](const std::string& bearer, const std::string& query) {
    return http_request(node.port(), "GET", "/api/history?" + query, {{"Authorization", "Bearer " + bearer}});
  };
  auto r = get(kApiKey, "room=news&limit=2");
  ASSERT_EQ(r.status, 200) << r.body;
  json body = json::parse(r.body);
  EXPECT_EQ(body["ok"], true);
  EXPECT_EQ(body["offset"], 3);
  EXPECT_TRUE(body["epoch"].is_string());
  ASSERT_EQ(body["messages"].size(), 2u);
  EXPECT_EQ(body["messages"][0], (json{{"type", "message"}, {"room", "news"}, {"data", 2}, {"from", "server"}, {"offset", 2}}));
  EXPECT_EQ(json::parse(get(kApiKey, "room=news").body)["messages"].size(), 3u);  // 100 by default
  // A token reads the rooms it may subscribe to.
  std::string reader = token("rita", {{"rooms", {{"sub", {"news"}}}}});
  EXPECT_EQ(get(reader, "room=news").status, 200);
  EXPECT_EQ(code_of(get(reader, "room=secret")), "forbidden");
  for (std::string bad : {"room=news&limit=0", "room=news&limit=1001", "room=news&limit=x", "limit=3"})
    EXPECT_EQ(code_of(get(kApiKey, bad)), "bad_request") << bad;
  EXPECT_EQ(code_of(get(kApiKey, "room=a%20b")), "bad_room");
  EXPECT_EQ(node.metrics().api_requests("history", 200), 3u);
}

TEST(DevMode, TokenEndpointExistsOnlyInDevMode) {
  TestNode plain(api_config());
  EXPECT_EQ(http_get(plain.port(), "/dev/token?user=alice").status, 404);

  auto config = TestNode::default_config();
  config.allow_anonymous = false;
  config.dev = true;  // no secret configured: the node makes one up
  TestNode dev(config);
  auto r = http_get(dev.port(), "/dev/token?user=Ana%20Lima");
  ASSERT_EQ(r.status, 200) << r.body;
  json body = json::parse(r.body);
  EXPECT_EQ(body["user"], "Ana Lima");
  EXPECT_EQ(body["expires_in"], 900);
  WsClient::Options o;
  o.target = "/ws?token=" + body["token"].get<std::string>();
  WsClient ana(dev.port(), o);
  ana.request({{"op", "subscribe"}, {"room", "lobby"}, {"presence", true}});
  EXPECT_EQ(ana.read_json(), (json{{"type", "join"}, {"room", "lobby"}, {"user", "Ana Lima"}, {"info", {{"name", "Ana Lima"}}}}));
  EXPECT_EQ(http_get(dev.port(), "/dev/token").status, 400);
  EXPECT_EQ(http_get(dev.port(), "/dev/token?user=" + std::string(65, 'a')).status, 400);
  EXPECT_EQ(http_get(dev.port(), "/dev/token?user=a%0Ab").status, 400);
  EXPECT_EQ(http_get(dev.port(), "/dev/token?user=%FF").status, 400);      // not UTF-8
  EXPECT_EQ(http_get(dev.port(), "/dev/token?user=a%C2%85b").status, 400);  // a C1 control character
  EXPECT_EQ(http_get(dev.port(), "/dev/token?user=caf%C3%A9").status, 200);
  EXPECT_EQ(WsClient::try_handshake(dev.port()).status, 401);  // dev mode is not anonymous
}

TEST(KeyReload, JwksFileIsReadAgainOnReload) {
  char path[] = "/tmp/switchboard-jwks-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  auto write_jwks = [&](const std::string& kid, const std::string& secret) {
    std::ofstream(path) << json{{"keys", {{{"kty", "oct"}, {"kid", kid}, {"k", auth::detail::base64url_encode(secret)}}}}}.dump();
  };
  write_jwks("old", "old-secret-0123456789");
  auto config = TestNode::default_config();
  config.allow_anonymous = false;
  config.jwks = path;
  TestNode node(config);
  // Tokens without a kid, which any key of the set may verify (kid selection: jwt_test).
  auto old_token = mint_hs256("old-secret-0123456789", {{"sub", "a"}, {"exp", unix_time(60)}});
  auto new_token = mint_hs256("new-secret-0123456789", {{"sub", "b"}, {"exp", unix_time(60)}});
  WsClient::Options o;
  o.target = "/ws?token=" + new_token;
  EXPECT_EQ(WsClient::try_handshake(node.port(), o).status, 401);

  write_jwks("new", "new-secret-0123456789");
  EXPECT_TRUE(node.server().reload());
  EXPECT_EQ(WsClient::try_handshake(node.port(), o).status, 101);
  o.target = "/ws?token=" + old_token;
  EXPECT_EQ(WsClient::try_handshake(node.port(), o).status, 401);  // the old key is gone

  std::ofstream(path) << "{ not json";
  EXPECT_FALSE(node.server().reload());  // refused: the keys in use stay
  o.target = "/ws?token=" + new_token;
  EXPECT_EQ(WsClient::try_handshake(node.port(), o).status, 101);
  std::remove(path);
}

TEST(TokenSize, OversizeTokensAre401AndHugeRequests413) {
  auto config = api_config();
  config.allow_anonymous = false;
  config.jwt_max_token_bytes = 1024;
  TestNode node(config);
  auto big = token("big", {{"info", {{"bio", std::string(2000, 'x')}}}});
  WsClient::Options o;
  o.headers["Authorization"] = "Bearer " + big;
  auto r = WsClient::try_handshake(node.port(), o);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(code_of(r), "bad_token");
  o.headers["Authorization"] = "Bearer " + std::string(60000, 'a');  // far over: not read whole
  auto huge = WsClient::try_handshake(node.port(), o);
  EXPECT_EQ(huge.status, 413);
}

}  // namespace http_api_test
