// GET /poll: long-polling, the last way in. A poll answers at once with what waits for its
// session, or is held until something comes or --poll-timeout; the session lives --poll-grace
// between polls (presence counts it), resumes from an event id as an SSE stream does, and has
// the limits of every connection.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <future>
#include <numeric>
#include <optional>
#include <thread>

#include "RedisServer.h"
#include "TestCert.h"
#include "TestNode.h"
#include "TestToken.h"
#include "WsClient.h"

namespace poll_test {  // this suite's own names: the sanitizer builds compile suites together

using namespace switchboard;
using namespace switchboard::test;
using nlohmann::json;

namespace {

const std::string kSecret = "poll-test-secret-0123456789abcdef";

json publish(WsClient& ws, const std::string& room, json data) {
  return ws.request({{"op", "publish"}, {"room", room}, {"data", std::move(data)}});
}

struct PollerOptions {
  bool tls = false;
  std::map<std::string, std::string> headers;
};

// A polling client: each poll is one HTTP request on a connection of its own; it keeps its
// session and acknowledges what each answer held.
class Poller {
 public:
  using Options = PollerOptions;
  Poller(std::uint16_t port, std::string query, Options options = {})
      : port_(port), query_(std::move(query)), options_(std::move(options)) {}

  // One poll; its answer's events (each {"id"?, "data"}). Throws on an answer other than 200.
  std::vector<json> poll(std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
    auto res = request(deadline);
    if (res.status != 200) throw std::runtime_error("poll answered " + std::to_string(res.status) + ": " + res.body);
    json answer = json::parse(res.body);
    session_ = answer["session"];
    next_ = answer["next"];
    std::vector<json> events = answer["events"];
    for (const auto& e : events)
      if (e.contains("id")) last_id_ = e["id"];
    return events;
  }
  // Polls until `n` events came, for at most a few polls.
  std::vector<json> poll_for(std::size_t n) {
    std::vector<json> all;
    for (int i = 0; i < 10 && all.size() < n; ++i) {
      auto more = poll();
      all.insert(all.end(), more.begin(), more.end());
    }
    return all;
  }
  // The raw answer to the next poll (its status and body).
  HttpResponse request(std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
    std::string target = "/poll?" + query_;
    if (!session_.empty()) target += "&session=" + session_ + "&ack=" + std::to_string(next_);
    return http_request(port_, "GET", target, options_.headers, {}, options_.tls, deadline);
  }
  const std::string& session() const { return session_; }
  // Polls from now on as session `id`.
  void set_session(std::string id) { session_ = std::move(id); }
  const std::string& last_id() const { return last_id_; }
  std::uint64_t next() const { return next_; }
  void set_next(std::uint64_t next) { next_ = next; }

 private:
  std::uint16_t port_;
  std::string query_;
  Options options_;
  std::string session_;
  std::uint64_t next_ = 0;
  std::string last_id_;
};

std::vector<json> data_of(const std::vector<json>& events) {
  std::vector<json> out;
  for (const auto& e : events) out.push_back(e["data"]);
  return out;
}

server::Config poll_config() {
  auto config = TestNode::default_config();
  config.poll_timeout = std::chrono::seconds(2);
  config.poll_grace = std::chrono::seconds(1);
  return config;
}

}  // namespace

TEST(Poll, AFirstPollSubscribesAndTheNextTakesWhatWaitsAtOnce) {
  TestNode node(poll_config());
  WsClient pub(node.port());
  Poller poller(node.port(), "rooms=a,b");
  auto first = poller.poll_for(2);
  ASSERT_EQ(first.size(), 2u);
  for (const auto& e : first) {
    EXPECT_EQ(e["data"]["type"], "subscribed") << e;
    EXPECT_TRUE(e.contains("id"));
  }
  EXPECT_EQ(poller.session().size(), 32u);
  EXPECT_EQ(poller.next(), 2u);
  // Published while no poll is held: they wait for the next one, which takes them at once.
  publish(pub, "a", 1);
  publish(pub, "b", 2);
  ASSERT_TRUE(eventually([&] { return node.metrics().deliveries.load() >= 2; }));
  auto held_before = node.metrics().polls_held.load();
  auto events = poller.poll_for(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["data"]["type"], "message");
  EXPECT_EQ(events[0]["data"]["room"], "a");
  EXPECT_EQ(events[0]["data"]["data"], 1);
  EXPECT_EQ(events[1]["data"]["data"], 2);
  std::string epoch_a = first[0]["data"]["room"] == "a" ? first[0]["data"]["epoch"] : first[1]["data"]["epoch"];
  std::string epoch_b = first[0]["data"]["room"] == "b" ? first[0]["data"]["epoch"] : first[1]["data"]["epoch"];
  EXPECT_EQ(events[1]["id"], "a=1." + epoch_a + ",b=1." + epoch_b);  // as an SSE stream's ids
  EXPECT_EQ(node.metrics().polls_held.load(), held_before);  // answered without waiting
  EXPECT_EQ(node.metrics().poll_sessions_opened.load(), 1u);
  EXPECT_EQ(node.metrics().connections_current.load(), 2);  // a session counts like a WebSocket
}

TEST(Poll, AHeldPollIsAnsweredWhenAMessageComes) {
  TestNode node(poll_config());
  WsClient pub(node.port());
  Poller poller(node.port(), "rooms=a");
  poller.poll_for(1);
  auto polls = node.metrics().polls_held.load();
  auto held = std::async(std::launch::async, [&] { return poller.poll(); });
  ASSERT_TRUE(eventually([&] { return node.metrics().polls_held.load() > polls; }));
  // Held: the answer waits for the message.
  EXPECT_EQ(held.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  publish(pub, "a", "hello");
  auto events = held.get();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["data"]["data"], "hello");
  EXPECT_EQ(node.metrics().poll_timeouts.load(), 0u);
}

TEST(Poll, AHeldPollWithNothingForItIsAnsweredEmptyAtTheTimeout) {
  auto config = poll_config();
  config.poll_timeout = std::chrono::seconds(1);
  TestNode node(config);
  Poller poller(node.port(), "rooms=a");
  poller.poll_for(1);
  auto next = poller.next();
  EXPECT_TRUE(poller.poll().empty());
  EXPECT_EQ(poller.next(), next);
  EXPECT_EQ(node.metrics().poll_timeouts.load(), 1u);
  // The session stayed: still one connection, the same session.
  EXPECT_EQ(node.metrics().poll_sessions_opened.load(), 1u);
}

TEST(Poll, AnAnswerLostOnTheWayIsAnsweredAgainToAPollThatAcknowledgesLess) {
  TestNode node(poll_config());
  WsClient pub(node.port());
  Poller poller(node.port(), "rooms=a");
  poller.poll_for(1);
  auto before = poller.next();
  publish(pub, "a", 1);
  ASSERT_EQ(data_of(poller.poll_for(1))[0]["data"], 1);
  // As if that answer never reached the client: it acknowledges what it had before.
  poller.set_next(before);
  publish(pub, "a", 2);
  ASSERT_TRUE(eventually([&] { return node.metrics().deliveries.load() >= 2; }));
  auto again = data_of(poller.poll_for(2));
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0]["data"], 1);
  EXPECT_EQ(again[1]["data"], 2);
}

TEST(Poll, ALastEventIdResumesWhereTheClientWasWithRecoveredOrNot) {
  TestNode node(poll_config());
  WsClient pub(node.port());
  std::string last_id;
  {
    Poller poller(node.port(), "rooms=a,b");
    poller.poll_for(2);
    publish(pub, "a", 1);
    poller.poll_for(1);
    last_id = poller.last_id();
  }
  publish(pub, "a", 2);
  publish(pub, "b", 1);
  // A poll without a session the node knows (the grace passed, another node): a new session from
  // the last event id, as an SSE stream's reconnect.
  std::string encoded;
  for (char c : last_id) encoded += c == '=' ? std::string("%3D") : c == ',' ? std::string("%2C") : std::string(1, c);
  Poller back(node.port(), "rooms=a,b&last_event_id=" + encoded);
  back.set_session("0123456789abcdef0123456789abcdef");
  std::vector<json> got;
  std::size_t recovered = 0;
  for (const auto& e : back.poll_for(4)) {
    if (e["data"]["type"] == "subscribed") {
      EXPECT_EQ(e["data"]["recovered"], true) << e;
      ++recovered;
    } else {
      got.push_back(e["data"]);
    }
  }
  EXPECT_EQ(recovered, 2u);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(node.metrics().recoveries_succeeded.load(), 2u);

  Poller stranger(node.port(), "rooms=a&last_event_id=a%3D1.not-this-epoch");
  auto first = stranger.poll_for(1);
  EXPECT_EQ(first[0]["data"]["recovered"], false);
  EXPECT_EQ(first[0]["data"]["offset"], 2);
}

TEST(Poll, APollerIsPresentWhileItPollsAndLeavesAfterTheGrace) {
  auto config = poll_config();
  config.poll_timeout = std::chrono::seconds(1);
  TestNode node(config);
  WsClient watcher(node.port());
  watcher.request({{"op", "subscribe"}, {"room", "a"}, {"presence", true}});
  watcher.read_json();  // its own join
  {
    Poller poller(node.port(), "rooms=a");
    poller.poll_for(1);
    json join = watcher.read_json();
    EXPECT_EQ(join["type"], "join") << join;
    // Between polls, within the grace, it stays.
    for (int i = 0; i < 2; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      EXPECT_TRUE(poller.poll().empty());  // held, then answered at the timeout
    }
    EXPECT_EQ(watcher.request({{"op", "presence"}, {"room", "a"}})["users"].size(), 2u);
    // Then it polls no more.
  }
  json leave = watcher.read_json();
  EXPECT_EQ(leave["type"], "leave") << leave;
  EXPECT_TRUE(eventually([&] { return node.dispatcher().connection_count() == 1; }));
  EXPECT_EQ(node.metrics().poll_sessions_opened.load(), 1u);
}

TEST(Poll, BadRoomsBadAcksAndBadTokensAreRefusedAsStreamsAre) {
  auto config = TestNode::jwt_config(kSecret);
  TestNode node(config);
  std::string token = user_token(kSecret, "pat");
  auto get = [&](const std::string& target) { return http_get(node.port(), target); };
  EXPECT_EQ(get("/poll?rooms=a").status, 401);
  EXPECT_EQ(json::parse(get("/poll?rooms=a").body)["error"]["code"], "missing_token");
  EXPECT_EQ(json::parse(get("/poll?rooms=a&token=forged").body)["error"]["code"], "bad_token");
  for (std::string query : {"rooms=a,,b", "rooms=a&presence=b", "rooms=a&last_event_id=a=x.e", "rooms=a&ack=-1", "rooms=a&ack=x"}) {
    auto res = get("/poll?" + query + "&token=" + token);
    EXPECT_EQ(res.status, 400) << query;
    EXPECT_EQ(json::parse(res.body)["error"]["code"], "bad_request") << query;
  }
  EXPECT_EQ(node.metrics().connections_current.load(), 0);
  EXPECT_EQ(http_request(node.port(), "POST", "/poll?rooms=a").status, 405);
  Poller ok(node.port(), "rooms=a&token=" + token);
  EXPECT_EQ(ok.poll_for(1)[0]["data"]["type"], "subscribed");
}

TEST(Poll, ASessionCountsAgainstTheConnectionCap) {
  auto config = poll_config();
  config.max_connections = 1;
  TestNode node(config);
  Poller poller(node.port(), "rooms=a");
  poller.poll_for(1);
  auto second = http_get(node.port(), "/poll?rooms=a");
  EXPECT_EQ(second.status, 503);
  EXPECT_EQ(json::parse(second.body)["error"]["code"], "too_many_connections");
  // Its own polls go on.
  EXPECT_EQ(poller.request().status, 200);
}

TEST(Poll, APollerThatDoesNotPollWhileMessagesPileUpIsClosedAsASlowConsumer) {
  auto config = poll_config();
  config.max_message_size = 4096;
  config.max_queue_bytes = 16 * 1024;
  config.poll_grace = std::chrono::seconds(30);
  TestNode node(config);
  Poller poller(node.port(), "rooms=a");
  poller.poll_for(1);
  WsClient pub(node.port());
  std::string big(3000, 'x');
  for (int i = 0; i < 10; ++i) publish(pub, "a", big);
  ASSERT_TRUE(eventually([&] { return node.metrics().slow_consumers.load() == 1; }));
  // What was queued is dropped; the close event is what the next poll gets, then the session ends.
  auto events = poller.poll();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["data"], (json{{"type", "close"}, {"code", 4008}, {"reason", "slow consumer"}}));
  EXPECT_TRUE(eventually([&] { return node.dispatcher().connection_count() == 1; }));
  EXPECT_EQ(node.metrics().closes(4008), 1u);
}

TEST(Poll, ShutdownAnswersTheHeldPollWithACloseEvent) {
  TestNode node(poll_config());
  Poller poller(node.port(), "rooms=a");
  poller.poll_for(1);
  auto polls = node.metrics().polls_held.load();
  auto held = std::async(std::launch::async, [&] { return poller.poll(); });
  ASSERT_TRUE(eventually([&] { return node.metrics().polls_held.load() > polls; }));
  node.server().stop(std::chrono::milliseconds(500));
  auto events = held.get();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back()["data"], (json{{"type", "close"}, {"code", 1001}, {"reason", "going away"}}));
}

TEST(Poll, PollsOverTlsToo) {
  auto dir = std::filesystem::temp_directory_path() / ("switchboard-poll-tls-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    auto cert = make_test_cert(dir.string());
    auto config = poll_config();
    config.tls_cert = cert.cert_path;
    config.tls_key = cert.key_path;
    TestNode node(config);
    WsClient pub(node.port());
    Poller poller(node.tls_port(), "rooms=a", {.tls = true, .headers = {}});
    poller.poll_for(1);
    auto polls = node.metrics().polls_held.load();
    auto held = std::async(std::launch::async, [&] { return poller.poll(); });
    ASSERT_TRUE(eventually([&] { return node.metrics().polls_held.load() > polls; }));
    publish(pub, "a", "secure");
    auto events = held.get();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0]["data"]["data"], "secure");
  }
  std::filesystem::remove_all(dir);
}

TEST(Poll, TheFirstPollIsAnsweredAtOnceWithTheSessionAndADeleteEndsIt) {
  TestNode node(poll_config());
  WsClient watcher(node.port());
  watcher.request({{"op", "subscribe"}, {"room", "a"}, {"presence", true}});
  watcher.read_json();  // its own join
  // No rooms: nothing will come, yet the client learns its session at once.
  Poller lonely(node.port(), "");
  EXPECT_TRUE(lonely.poll().empty());
  EXPECT_EQ(lonely.session().size(), 32u);
  EXPECT_EQ(node.metrics().polls_held.load(), 0u);

  Poller poller(node.port(), "rooms=a");
  poller.poll_for(1);
  EXPECT_EQ(watcher.read_json()["type"], "join");
  auto res = http_request(node.port(), "DELETE", "/poll?session=" + poller.session());
  EXPECT_EQ(res.status, 204);
  // Gone at once, not after the grace.
  json leave = watcher.read_json();
  EXPECT_EQ(leave["type"], "leave") << leave;
  // Ending a session the node does not know is no error.
  EXPECT_EQ(http_request(node.port(), "DELETE", "/poll?session=" + poller.session()).status, 204);
  auto preflight = http_request(node.port(), "OPTIONS", "/poll", {{"Origin", "http://127.0.0.1:" + std::to_string(node.port())}, {"Access-Control-Request-Method", "DELETE"}});
  EXPECT_EQ(preflight.status, 204);
  EXPECT_EQ(preflight.header("access-control-allow-methods"), "GET, DELETE");
}

TEST(Poll, AnExpiringTokenGetsARefreshEventThenTheSessionClosesWith4001) {
  auto config = TestNode::jwt_config(kSecret);
  config.poll_timeout = std::chrono::seconds(5);
  TestNode node(config);
  Poller poller(node.port(), "rooms=a&token=" + user_token(kSecret, "kim", json::object(), 2));
  std::vector<json> pushes;
  for (int i = 0; i < 10 && (pushes.empty() || pushes.back()["type"] != "close"); ++i)
    for (const auto& e : poller.poll()) pushes.push_back(e["data"]);
  ASSERT_EQ(pushes.size(), 3u);
  EXPECT_EQ(pushes[0]["type"], "subscribed");
  EXPECT_EQ(pushes[1]["type"], "refresh");  // start a new session with a new token and the last event id
  EXPECT_EQ(pushes[2], (json{{"type", "close"}, {"code", 4001}, {"reason", "token expired"}}));
  EXPECT_TRUE(eventually([&] { return node.metrics().connections_current.load() == 0; }));
  EXPECT_EQ(node.metrics().closes(4001), 1u);
}

// Every poll to the other node of a cluster (a load balancer without stickiness): each opens a
// session there from the last event id, and the messages still come in order, each once.
TEST(Poll, PollsAlternatingBetweenTwoNodesOfAClusterMissNothingAndRepeatNothing) {
  RedisServer redis;
  auto config = cluster_config(redis);
  config.poll_timeout = std::chrono::seconds(2);
  config.poll_grace = std::chrono::seconds(1);
  config.history_size = 1000;
  TestNode a(config), b(config);
  wait_ready(a);
  wait_ready(b);
  auto encode = [](const std::string& id) {
    std::string out;
    for (char c : id) out += c == '=' ? std::string("%3D") : c == ',' ? std::string("%2C") : std::string(1, c);
    return out;
  };
  std::string last_id, session;
  std::vector<int> got;
  std::size_t sessions = 0;
  auto poll = [&](std::uint16_t port) {
    std::string target = "/poll?rooms=busy";
    if (!last_id.empty()) target += "&last_event_id=" + encode(last_id);
    if (!session.empty()) target += "&session=" + session;
    auto res = http_get(port, target, false, std::chrono::seconds(10));
    ASSERT_EQ(res.status, 200) << res.body;
    json answer = json::parse(res.body);
    if (answer["session"] != session) ++sessions;
    session = answer["session"];
    for (const auto& e : answer["events"]) {
      if (e.contains("id")) last_id = e["id"];
      if (e["data"]["type"] == "message") got.push_back(e["data"]["data"]);
      if (e["data"]["type"] == "subscribed" && !got.empty()) EXPECT_EQ(e["data"]["recovered"], true) << e;
    }
  };
  // Subscribed before the first message.
  while (last_id.empty()) poll(a.port());

  constexpr int kMessages = 200;
  std::atomic<int> acked{0};
  std::thread publisher([&] {
    WsClient pub(a.port());
    for (int n = 0; n < kMessages; ++n) {
      if (pub.request({{"op", "publish"}, {"room", "busy"}, {"data", n}})["ok"] != true) return;
      ++acked;
    }
  });
  for (int i = 1; got.size() < kMessages && i < 1000 && !HasFatalFailure(); ++i) poll(i % 2 ? b.port() : a.port());
  publisher.join();
  ASSERT_EQ(acked, kMessages);
  std::vector<int> expected(kMessages);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(got, expected);
  // One session, on the node of the first poll: the other node relayed its polls there.
  EXPECT_EQ(sessions, 1u);
  EXPECT_EQ(session.rfind(a.server().control_node() + "-", 0), 0u) << session;
  EXPECT_EQ(b.metrics().poll_sessions_opened.load(), 0u);
  EXPECT_GT(b.metrics().polls_relayed.load(), 0u);
  EXPECT_EQ(b.metrics().polls_relayed_gone.load(), 0u);
}

namespace {

// Two nodes on one Redis, polls short: a poller's session held by the first.
struct TwoPollNodes {
  explicit TwoPollNodes(std::chrono::seconds poll_timeout = std::chrono::seconds(2),
                        std::chrono::seconds grace = std::chrono::seconds(1)) {
    auto config = cluster_config(redis);
    config.poll_timeout = poll_timeout;
    config.poll_grace = grace;
    config.history_size = 100;
    a.emplace(config);
    b.emplace(config);
    wait_ready(*a);
    wait_ready(*b);
  }
  RedisServer redis;
  std::optional<TestNode> a, b;
};

}  // namespace

namespace {

// A poller's session on a is lost (`lose`: a gone, or the session ended there) between two
// messages; its next poll reaches b, which relays it to a, hears nothing or that a has no such
// session, and opens a session that resumes from the poll's last event id: the second message
// comes, after a subscribed event saying it recovered. The poller of that new session.
Poller resumes_on_b(TwoPollNodes& nodes, const std::function<void(const std::string& session)>& lose) {
  Poller poller(nodes.a->port(), "rooms=r");
  poller.poll_for(1);  // subscribed, on a
  WsClient publisher(nodes.b->port());
  EXPECT_EQ(publish(publisher, "r", 1)["ok"], true);
  EXPECT_EQ(data_of(poller.poll_for(1)).at(0)["data"], 1);
  lose(poller.session());
  EXPECT_EQ(publish(publisher, "r", 2)["ok"], true);
  Poller moved(nodes.b->port(), "rooms=r&last_event_id=" + poller.last_id());
  moved.set_session(poller.session());
  moved.set_next(poller.next());
  auto events = moved.poll_for(2);
  EXPECT_GE(events.size(), 2u);
  if (events.size() >= 2) {
    EXPECT_EQ(events[0]["data"]["type"], "subscribed");
    EXPECT_EQ(events[0]["data"]["recovered"], true) << events[0];
    EXPECT_EQ(events[1]["data"]["data"], 2) << events[1];
  }
  EXPECT_NE(moved.session(), poller.session());
  EXPECT_EQ(moved.session().rfind(nodes.b->server().control_node() + "-", 0), 0u) << moved.session();
  EXPECT_EQ(nodes.b->metrics().polls_relayed.load(), 1u);
  EXPECT_EQ(nodes.b->metrics().polls_relayed_gone.load(), 1u);
  EXPECT_EQ(nodes.b->metrics().poll_sessions_opened.load(), 1u);
  return moved;
}

}  // namespace

TEST(Poll, APollOfASessionWhoseNodeIsGoneOpensASessionWhereItLandsAndResumes) {
  TwoPollNodes nodes;
  // No word from a within the reply timeout.
  resumes_on_b(nodes, [&](const std::string&) { nodes.a.reset(); });
}

TEST(Poll, APollOfASessionItsNodeNoLongerHasOpensASessionWhereItLandsAndResumes) {
  TwoPollNodes nodes;
  // a says at once that it has no such session.
  resumes_on_b(nodes, [&](const std::string& session) {
    EXPECT_EQ(http_request(nodes.a->port(), "DELETE", "/poll?session=" + session, {}, {}, false,
                           std::chrono::seconds(5)).status, 204);
    EXPECT_TRUE(eventually([&] { return nodes.a->dispatcher().connection_count() == 0; }));
  });
}

TEST(Poll, ADeleteOnAnotherNodeEndsTheSessionWhereItIsHeld) {
  TwoPollNodes nodes(std::chrono::seconds(2), std::chrono::seconds(60));  // no leave from the grace
  WsClient watcher(nodes.b->port());
  watcher.request({{"op", "subscribe"}, {"room", "r"}, {"presence", true}});
  watcher.read_json();  // its own join
  Poller poller(nodes.a->port(), "rooms=r&presence=r");
  poller.poll_for(1);
  EXPECT_EQ(watcher.read_json()["type"], "join");
  auto res = http_request(nodes.b->port(), "DELETE", "/poll?session=" + poller.session(), {}, {}, false,
                          std::chrono::seconds(5));
  EXPECT_EQ(res.status, 204);
  json leave = watcher.read_json();  // at once, not after the grace
  EXPECT_EQ(leave["type"], "leave") << leave;
  EXPECT_TRUE(eventually([&] { return nodes.a->dispatcher().connection_count() == 0; }));
}

TEST(Poll, AClientThatGoesAwayDuringAPollRelayedToAnotherNodeLeavesAfterTheGrace) {
  // A grace long enough for the relayed poll to reach a before it runs out on a loaded machine.
  TwoPollNodes nodes(std::chrono::seconds(60), std::chrono::seconds(3));
  WsClient watcher(nodes.a->port());
  watcher.request({{"op", "subscribe"}, {"room", "r"}, {"presence", true}});
  watcher.read_json();  // its own join
  Poller poller(nodes.a->port(), "rooms=r");
  poller.poll_for(1);
  EXPECT_EQ(watcher.read_json()["type"], "join");
  // Its next poll, held on a through b; the client gives up on it and closes the connection.
  Poller through_b(nodes.b->port(), "rooms=r");
  through_b.set_session(poller.session());
  through_b.set_next(poller.next());
  auto held = nodes.a->metrics().polls_held.load();
  EXPECT_THROW(through_b.request(std::chrono::milliseconds(300)), std::runtime_error);
  EXPECT_TRUE(eventually([&] { return nodes.a->metrics().polls_held.load() > held; }));
  json leave = watcher.read_json();  // within its 5 s, long before the 60 s poll timeout
  EXPECT_EQ(leave["type"], "leave") << leave;
  EXPECT_EQ(nodes.a->metrics().poll_timeouts.load(), 0u);
  EXPECT_EQ(nodes.b->metrics().poll_sessions_opened.load(), 0u);
}

TEST(Poll, AClientThatGoesAwayDuringAHeldPollLeavesAfterTheGraceNotTheTimeout) {
  auto config = poll_config();
  config.poll_timeout = std::chrono::seconds(60);
  config.poll_grace = std::chrono::seconds(1);
  TestNode node(config);
  WsClient watcher(node.port());
  watcher.request({{"op", "subscribe"}, {"room", "a"}, {"presence", true}});
  watcher.read_json();  // its own join
  Poller poller(node.port(), "rooms=a");
  poller.poll_for(1);
  EXPECT_EQ(watcher.read_json()["type"], "join");
  // The client gives up on its held poll and closes the connection.
  auto held = node.metrics().polls_held.load();
  EXPECT_THROW(poller.request(std::chrono::milliseconds(300)), std::runtime_error);
  EXPECT_TRUE(eventually([&] { return node.metrics().polls_held.load() > held; }));
  json leave = watcher.read_json();  // within its 5 s, long before the 60 s poll timeout
  EXPECT_EQ(leave["type"], "leave") << leave;
  EXPECT_TRUE(eventually([&] { return node.dispatcher().connection_count() == 1; }));
  EXPECT_EQ(node.metrics().poll_timeouts.load(), 0u);
}

}  // namespace poll_test
