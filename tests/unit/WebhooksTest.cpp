// The webhooks' pieces on their own: the signature (against a value from Python's hmac module),
// the --webhook-events filter, and the webhook options; the proxy's options and room patterns.
#include <gtest/gtest.h>

#include "backend/HttpClient.h"
#include "backend/RoomPatterns.h"
#include "backend/WebhookFilter.h"
#include "backend/Webhooks.h"
#include "switchboard/server/Config.h"

using namespace switchboard::server;

namespace {
ConfigResult load(std::vector<const char*> args, std::vector<std::string> env = {}) {
  args.insert(args.begin(), "switchboard");
  args.push_back("--allow-anonymous");
  return load_config(static_cast<int>(args.size()), args.data(), env);
}
}  // namespace

TEST(Webhooks, SignatureIsHmacSha256OfTimestampDotBody) {
  // python3 -c "import hmac,hashlib; print(hmac.new(b'whsec-unit-test-0123456789',
  //             b'1700000000.{\"events\":[]}', hashlib.sha256).hexdigest())"
  EXPECT_EQ(Webhooks::signature("whsec-unit-test-0123456789", "1700000000", "{\"events\":[]}"),
            "v1=373459223ce725381c639c0e6f3b0a0ba7af4435b52cf358ba23b4a99cd30cb9");
}

TEST(WebhookFilter, EmptyWantsEverything) {
  for (bool clustered : {false, true}) {
    auto all = WebhookFilter::parse("", clustered);
    for (std::size_t i = 0; i < kWebhookKindCount; ++i) EXPECT_TRUE(all.wants(static_cast<WebhookKind>(i), "any"));
  }
  EXPECT_TRUE(WebhookFilter::parse("member_added", true).wants(WebhookKind::member_added, "chat"));
}

TEST(WebhookFilter, PatternsAreNamesOrPrefixes) {
  auto f = WebhookFilter::parse("member_added@chat:*, message_published@orders, message_published@audit:*", false);
  EXPECT_TRUE(f.wants(WebhookKind::member_added, "chat:lobby"));
  EXPECT_FALSE(f.wants(WebhookKind::member_added, "orders"));
  EXPECT_FALSE(f.wants(WebhookKind::member_removed, "chat:lobby"));
  EXPECT_TRUE(f.wants(WebhookKind::message_published, "orders"));
  EXPECT_FALSE(f.wants(WebhookKind::message_published, "orders:1"));
  EXPECT_TRUE(f.wants(WebhookKind::message_published, "audit:x"));
  EXPECT_THROW(WebhookFilter::parse("member_joined", false), std::invalid_argument);
  EXPECT_THROW(WebhookFilter::parse("connection_opened@chat", false), std::invalid_argument);
  EXPECT_THROW(WebhookFilter::parse("member_added@", false), std::invalid_argument);
  EXPECT_THROW(WebhookFilter::parse("member_added@a*b", false), std::invalid_argument);
}

TEST(Webhooks, OptionsAreCheckedTogether) {
  EXPECT_FALSE(load({"--webhook-url", "http://127.0.0.1:9/hook"}).config) << "no secret";
  EXPECT_FALSE(load({"--webhook-secret", "0123456789abcdef"}).config) << "a secret without a URL";
  EXPECT_FALSE(load({"--webhook-url", "ftp://x/", "--webhook-secret", "0123456789abcdef"}).config);
  EXPECT_FALSE(load({"--webhook-url", "http://x/", "--webhook-secret", "short"}).config);
  EXPECT_TRUE(load({"--webhook-url", "http://x/", "--webhook-secret", "0123456789abcdef", "--webhook-events",
                    "member_added,room_vacated", "--redis", "redis://127.0.0.1:6379"})
                  .config);
  auto r = load({"--webhook-url", "http://a/hook,https://b/hook", "--webhook-url", "http://c:8080/"},
                {"SWITCHBOARD_WEBHOOK_SECRET=0123456789abcdef"});
  ASSERT_TRUE(r.config) << r.message;
  EXPECT_EQ(r.config->webhook_urls, (std::vector<std::string>{"http://a/hook", "https://b/hook", "http://c:8080/"}));
  EXPECT_EQ(r.config->webhook_secret, "0123456789abcdef");
  EXPECT_EQ(r.config->webhook_queue_size, 10000u);
}

TEST(HttpClient, ChecksItsUrls) {
  EXPECT_EQ(HttpClient::check_url("http://127.0.0.1:8080/hook?x=1"), "");
  EXPECT_EQ(HttpClient::check_url("https://backend.example.com"), "");
  EXPECT_NE(HttpClient::check_url("ws://backend/"), "");
  EXPECT_NE(HttpClient::check_url("http:///path"), "");
  EXPECT_NE(HttpClient::check_url("http://user:pw@backend/"), "");
  EXPECT_NE(HttpClient::check_url("not a url"), "");
}

TEST(AppProxy, OptionsAreCheckedTogether) {
  const char* secret = "0123456789abcdef";
  EXPECT_FALSE(load({"--proxy-publish", "http://127.0.0.1:9/proxy"}).config) << "no secret";
  EXPECT_FALSE(load({"--proxy-secret", secret}).config) << "a secret without a URL";
  EXPECT_FALSE(load({"--proxy-publish-rooms", "chat:*"}).config) << "rooms without a URL";
  EXPECT_FALSE(load({"--proxy-subscribe", "ftp://x/", "--proxy-secret", secret}).config);
  EXPECT_FALSE(load({"--proxy-publish", "http://x/", "--proxy-secret", secret, "--proxy-publish-rooms", "a*b"}).config);
  EXPECT_FALSE(load({"--proxy-publish", "http://x/", "--proxy-secret", secret, "--proxy-timeout-ms", "0"}).config);
  EXPECT_FALSE(load({"--proxy-publish", "http://x/", "--proxy-secret", secret, "--proxy-concurrency", "0"}).config);
  auto r = load({"--proxy-subscribe", "http://app/subscribe", "--proxy-subscribe-rooms", "private:*, vip",
                 "--proxy-publish", "https://app/publish"},
                {"SWITCHBOARD_PROXY_SECRET=0123456789abcdef"});
  ASSERT_TRUE(r.config) << r.message;
  EXPECT_EQ(r.config->proxy_secret, secret);
  EXPECT_EQ(r.config->proxy_timeout, std::chrono::milliseconds(3000));
  EXPECT_EQ(r.config->proxy_concurrency, 32u);
}

TEST(RoomPatterns, NamesPrefixesAndEverything) {
  auto some = RoomPatterns::parse(" private:*, vip ", "--x");
  EXPECT_TRUE(some.matches("private:a"));
  EXPECT_TRUE(some.matches("private:"));
  EXPECT_TRUE(some.matches("vip"));
  EXPECT_FALSE(some.matches("vip2"));
  EXPECT_FALSE(some.matches("public:a"));
  EXPECT_TRUE(RoomPatterns::parse("", "--x").matches("anything"));
  EXPECT_TRUE(RoomPatterns::parse("*", "--x").matches("anything"));
  EXPECT_THROW(RoomPatterns::parse("a*b", "--x"), std::invalid_argument);
  EXPECT_THROW(RoomPatterns::parse("a,,b", "--x"), std::invalid_argument);
}
