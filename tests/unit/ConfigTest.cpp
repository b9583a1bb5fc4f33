#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "switchboard/cluster/RedisAddress.h"
#include "switchboard/server/Config.h"

using switchboard::server::ConfigResult;
using switchboard::server::load_config;

namespace {

ConfigResult load(std::vector<const char*> args, std::vector<std::string> env = {}) {
  args.insert(args.begin(), "switchboard");
  return load_config(static_cast<int>(args.size()), args.data(), env);
}

std::string write_temp(const std::string& text) {
  char name[] = "/tmp/switchboard-config-XXXXXX";
  int fd = mkstemp(name);
  EXPECT_GE(fd, 0);
  close(fd);
  std::ofstream(name) << text;
  return name;
}

}  // namespace

TEST(Config, DefaultsWithAnonymous) {
  auto r = load({"--allow-anonymous"});
  ASSERT_TRUE(r.config) << r.message;
  EXPECT_EQ(r.config->port, 8080);
  EXPECT_EQ(r.config->bind, "0.0.0.0");
  EXPECT_EQ(r.config->max_message_size, 64u * 1024);
  EXPECT_EQ(r.config->max_rooms, 100u);
  EXPECT_EQ(r.config->max_queue_bytes, 1024u * 1024);
  EXPECT_FALSE(r.config->tls_enabled());
}

TEST(Config, RefusesToStartWithoutAnyAuthentication) {
  auto r = load({});
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.message.find("--allow-anonymous"), std::string::npos);
}

TEST(Config, HelpListsEveryOption) {
  auto r = load({"--help"});
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.exit_code, 0);
  for (const char* opt : {"--bind", "--port", "--tls-port", "--tls-cert", "--tls-key", "--threads",
                          "--allow-anonymous", "--max-message-size", "--max-rooms", "--max-queue-bytes",
                          "--idle-timeout", "--handshake-timeout", "--publish-rate", "--config", "--dev",
                          "--api-keys", "--default-rooms", "--anonymous-rooms", "--jwt-max-token-bytes", "--redis",
                          "--redis-prefix", "--token-limits", "--redis-sentinel", "--redis-sentinel-master",
                          "--redis-password", "--redis-wait-replicas", "--redis-wait-timeout-ms"})
    EXPECT_NE(r.message.find(opt), std::string::npos) << opt;
}

TEST(Config, FlagsWinOverEnvironmentWhichWinsOverFile) {
  auto file = write_temp(R"({"port": 7001, "max-rooms": 7, "bind": "127.0.0.2", "allow-anonymous": true})");
  auto r = load({"--config", file.c_str(), "--port", "7003"},
                {"SWITCHBOARD_PORT=7002", "SWITCHBOARD_MAX_ROOMS=8", "PATH=/usr/bin"});
  std::remove(file.c_str());
  ASSERT_TRUE(r.config) << r.message;
  EXPECT_EQ(r.config->port, 7003);           // flag
  EXPECT_EQ(r.config->max_rooms, 8u);        // environment
  EXPECT_EQ(r.config->bind, "127.0.0.2");    // file
  EXPECT_TRUE(r.config->allow_anonymous);    // file, boolean
}

TEST(Config, ConfigFileNamedByEnvironment) {
  auto file = write_temp(R"({"allow-anonymous": true, "idle-timeout": 5})");
  auto r = load({}, {"SWITCHBOARD_CONFIG=" + file});
  std::remove(file.c_str());
  ASSERT_TRUE(r.config) << r.message;
  EXPECT_EQ(r.config->idle_timeout, std::chrono::seconds(5));
}

TEST(Config, BadInputIsAClearError) {
  EXPECT_EQ(load({"--allow-anonymous", "--port", "http"}).exit_code, 2);
  EXPECT_EQ(load({"--allow-anonymous", "--no-such-flag"}).exit_code, 2);
  EXPECT_EQ(load({"--allow-anonymous", "--tls-cert", "a.pem"}).exit_code, 2);  // key missing
  EXPECT_EQ(load({"--allow-anonymous", "--config", "/nonexistent/switchboard.json"}).exit_code, 2);
  auto file = write_temp(R"({"allow-anonymous": true, "prot": 1})");
  auto r = load({"--config", file.c_str()});
  std::remove(file.c_str());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.message.find("prot"), std::string::npos);
}

TEST(Config, NegativeCountsAreRefusedRatherThanWrapped) {
  // Read as unsigned, "-1" would be the largest value: a port of 65535, no queue bound at all.
  for (const char* option : {"--port", "--max-queue-bytes", "--max-rooms", "--max-message-size", "--threads",
                             "--history-size", "--deflate-threshold", "--rate-limit-strikes", "--webhook-queue-size"}) {
    auto r = load({"--allow-anonymous", option, "-1"});
    EXPECT_EQ(r.exit_code, 2) << option;
    EXPECT_NE(r.message.find(std::string(option) + " cannot be negative: -1"), std::string::npos) << r.message;
  }
  auto equals = load({"--allow-anonymous", "--max-queue-bytes=-5"});
  EXPECT_NE(equals.message.find("--max-queue-bytes cannot be negative: -5"), std::string::npos) << equals.message;
  auto env = load({"--allow-anonymous"}, {"SWITCHBOARD_MAX_ROOMS=-2"});
  EXPECT_NE(env.message.find("--max-rooms cannot be negative: -2"), std::string::npos) << env.message;
  auto file = write_temp(R"({"allow-anonymous": true, "port": -1})");
  auto from_file = load({"--config", file.c_str()});
  std::remove(file.c_str());
  EXPECT_NE(from_file.message.find("--port cannot be negative: -1"), std::string::npos) << from_file.message;
  // Negative numbers where they mean something still pass to their own checks.
  EXPECT_NE(load({"--allow-anonymous", "--jwt-leeway", "-1"}).message.find("--jwt-leeway must be >= 0"),
            std::string::npos);
}

TEST(Config, OutOfRangeValuesNameTheirOption) {
  auto threads = load({"--allow-anonymous", "--threads", "100000"});
  EXPECT_NE(threads.message.find("--threads must be at most 1024"), std::string::npos) << threads.message;
  auto size = load({"--allow-anonymous", "--history-size", "200000"});
  EXPECT_NE(size.message.find("--history-size must be at most 100000"), std::string::npos) << size.message;
  auto ttl = load({"--allow-anonymous", "--history-ttl", "0"});
  EXPECT_NE(ttl.message.find("--history-ttl must be at least 1 second"), std::string::npos) << ttl.message;
  ASSERT_TRUE(load({"--allow-anonymous", "--threads", "1024", "--history-size", "100000"}).config);
  for (const char* rate : {"--publish-rate", "--request-burst", "--http-publish-rate-per-ip"})
    for (const char* value : {"nan", "inf"}) {
      auto r = load({"--allow-anonymous", rate, value});
      EXPECT_NE(r.message.find(std::string(rate) + " must be a finite number"), std::string::npos) << r.message;
    }
  EXPECT_NE(load({"--allow-anonymous", "--handshake-rate-per-ip", "nan"}).message.find("finite"), std::string::npos);
}

TEST(Config, AnonymousFromEnvironment) {
  auto r = load({}, {"SWITCHBOARD_ALLOW_ANONYMOUS=true"});
  ASSERT_TRUE(r.config) << r.message;
  EXPECT_TRUE(r.config->allow_anonymous);
}

TEST(Config, JwtKeysAloneAreEnoughToStart) {
  auto r = load({}, {"SWITCHBOARD_JWT_SECRET=s3cret", "SWITCHBOARD_JWT_AUDIENCE=chat"});
  ASSERT_TRUE(r.config) << r.message;
  EXPECT_TRUE(r.config->jwt_enabled());
  EXPECT_FALSE(r.config->allow_anonymous);
  EXPECT_EQ(r.config->jwt_audience, "chat");
  EXPECT_EQ(r.config->jwt_leeway, std::chrono::seconds(30));
}

TEST(Config, RoomGrantsApiKeysAndDevMode) {
  auto file = write_temp(R"({"dev": true, "default-rooms": {"sub": ["public:*"]}, "jwt-max-token-bytes": 4096})");
  auto r = load({"--config", file.c_str(), "--anonymous-rooms", R"({"sub":["lobby"]})"},
                {"SWITCHBOARD_API_KEYS=backend-key-0123456789, second-key-0123456789 ,"});
  std::remove(file.c_str());
  ASSERT_TRUE(r.config) << r.message;  // --dev alone is a way to authenticate
  EXPECT_TRUE(r.config->dev);
  EXPECT_EQ(nlohmann::json::parse(r.config->default_rooms), nlohmann::json::parse(R"({"sub":["public:*"]})"));
  EXPECT_EQ(r.config->anonymous_rooms, R"({"sub":["lobby"]})");
  EXPECT_EQ(r.config->jwt_max_token_bytes, 4096u);
  EXPECT_EQ(r.config->api_key_list(), (std::vector<std::string>{"backend-key-0123456789", "second-key-0123456789"}));
}

TEST(Config, BadRoomGrantsAndShortApiKeysAreRefused) {
  auto bad_json = load({"--allow-anonymous", "--default-rooms", "{sub"});
  EXPECT_EQ(bad_json.exit_code, 2);
  EXPECT_NE(bad_json.message.find("--default-rooms"), std::string::npos);
  auto bad_shape = load({"--allow-anonymous", "--anonymous-rooms", R"({"sub":"x"})"});
  EXPECT_EQ(bad_shape.exit_code, 2);
  EXPECT_NE(bad_shape.message.find("--anonymous-rooms"), std::string::npos);
  EXPECT_EQ(load({"--allow-anonymous", "--api-keys", "short"}).exit_code, 2);
  EXPECT_EQ(load({"--allow-anonymous", "--jwt-max-token-bytes", "10"}).exit_code, 2);
}

TEST(Config, RedisUrl) {
  auto r = load({"--allow-anonymous", "--redis", "redis://:s3cret@10.0.0.5:6380/2", "--redis-prefix", "eu:"});
  ASSERT_TRUE(r.config) << r.message;
  auto a = switchboard::cluster::RedisAddress::parse(r.config->redis);
  EXPECT_EQ(a.host, "10.0.0.5");
  EXPECT_EQ(a.port, 6380);
  EXPECT_EQ(a.password, "s3cret");
  EXPECT_EQ(a.db, 2);
  EXPECT_EQ(a.describe(), "redis://:***@10.0.0.5:6380/2");  // no password in logs
  EXPECT_EQ(r.config->redis_prefix, "eu:");
  auto plain = switchboard::cluster::RedisAddress::parse("redis://localhost");
  EXPECT_EQ(plain.host, "localhost");
  EXPECT_EQ(plain.port, 6379);
  EXPECT_EQ(plain.db, 0);
  EXPECT_EQ(switchboard::cluster::RedisAddress::parse("redis://[::1]:7000").host, "::1");
  for (const char* bad : {"localhost:6379", "http://localhost", "redis://", "redis://h/x", "redis://h:0"}) {
    auto refused = load({"--allow-anonymous", "--redis", bad});
    EXPECT_EQ(refused.exit_code, 2) << bad;
    EXPECT_NE(refused.message.find("--redis"), std::string::npos) << bad;
  }
}

// --redis-sentinel: sentinels as host:port or redis:// URLs (for a sentinel password), in order;
// the master's name and password; --redis-wait-replicas. Bad combinations stop the start.
TEST(Config, RedisSentinelAndWaitReplicas) {
  auto r = load({"--allow-anonymous", "--redis-sentinel", "10.0.0.1:26379, redis://:sp@[::1]:26380,s3:5000",
                 "--redis-sentinel-master", "mymaster", "--redis-wait-replicas", "1"},
                {"SWITCHBOARD_REDIS_PASSWORD=master-secret"});
  ASSERT_TRUE(r.config) << r.message;
  auto sentinels = r.config->sentinel_addresses();
  ASSERT_EQ(sentinels.size(), 3u);
  EXPECT_EQ(sentinels[0].host, "10.0.0.1");
  EXPECT_EQ(sentinels[0].port, 26379);
  EXPECT_EQ(sentinels[1].host, "::1");
  EXPECT_EQ(sentinels[1].password, "sp");
  EXPECT_EQ(sentinels[2].host, "s3");
  EXPECT_EQ(sentinels[2].port, 5000);
  EXPECT_EQ(r.config->redis_sentinel_master, "mymaster");
  EXPECT_EQ(r.config->redis_password, "master-secret");
  EXPECT_TRUE(r.config->clustered());
  EXPECT_EQ(r.config->redis_wait_replicas, 1u);
  EXPECT_EQ(r.config->redis_wait_timeout, std::chrono::milliseconds(200));  // the default

  auto refused = [](std::vector<const char*> args, const char* expected) {
    args.insert(args.begin(), "--allow-anonymous");
    auto result = load(args);
    EXPECT_EQ(result.exit_code, 2) << expected;
    EXPECT_NE(result.message.find(expected), std::string::npos) << result.message;
  };
  refused({"--redis", "redis://h", "--redis-sentinel", "h:1", "--redis-sentinel-master", "m"}, "exclude each other");
  refused({"--redis-sentinel", "h:1"}, "needs --redis-sentinel-master");
  refused({"--redis-sentinel-master", "m"}, "goes with --redis-sentinel");
  refused({"--redis-sentinel", "h", "--redis-sentinel-master", "m"}, "has no port");
  refused({"--redis-sentinel", "h:1,,h:2", "--redis-sentinel-master", "m"}, "is empty");
  refused({"--redis-sentinel", "http://h:1", "--redis-sentinel-master", "m"}, "is not an address");
  refused({"--redis-sentinel", "h:1", "--redis-sentinel-master", "my master"}, "spaces");
  refused({"--redis-wait-replicas", "1"}, "goes with --redis, --redis-sentinel or --redis-cluster");
  refused({"--redis-password", "x"}, "goes with --redis, --redis-sentinel or --redis-cluster");
  refused({"--redis", "redis://h", "--redis-wait-replicas", "101"}, "between 0 and 100");
  refused({"--redis", "redis://:a@h", "--redis-password", "b"}, "give it once");
  refused({"--redis", "redis://h", "--redis-wait-replicas", "1", "--redis-wait-timeout-ms", "0"}, "--redis-wait-timeout-ms");
  refused({"--redis", "redis://h", "--redis-wait-replicas", "1", "--redis-wait-timeout-ms", "5000"}, "a quarter");
}

TEST(Config, RedisClusterSeedsShareOnePassword) {
  auto r = load({"--allow-anonymous", "--redis-cluster", "redis://:pw@10.0.0.1:7000, 10.0.0.2:7001,[::1]:7002"});
  ASSERT_TRUE(r.config) << r.message;
  EXPECT_TRUE(r.config->clustered());
  auto seeds = r.config->cluster_seeds();
  ASSERT_EQ(seeds.size(), 3u);
  EXPECT_EQ(seeds[0].host, "10.0.0.1");
  EXPECT_EQ(seeds[1].port, 7001);
  EXPECT_EQ(seeds[2].host, "::1");
  for (const auto& seed : seeds) EXPECT_EQ(seed.password, "pw");
  auto env = load({"--allow-anonymous"}, {"SWITCHBOARD_REDIS_CLUSTER=h:1", "SWITCHBOARD_REDIS_PASSWORD=secret"});
  ASSERT_TRUE(env.config) << env.message;
  EXPECT_EQ(env.config->cluster_seeds().front().password, "secret");

  auto refused = [](std::vector<const char*> args, const char* expected) {
    args.insert(args.begin(), "--allow-anonymous");
    auto result = load(args);
    EXPECT_EQ(result.exit_code, 2) << expected;
    EXPECT_NE(result.message.find(expected), std::string::npos) << result.message;
  };
  refused({"--redis", "redis://h", "--redis-cluster", "h:1"}, "exclude each other");
  refused({"--redis-cluster", "h"}, "has no port");
  refused({"--redis-cluster", "redis://:a@h:1,redis://:b@h:2"}, "different passwords");
  refused({"--redis-cluster", "h:1/2"}, "has a database number");
  refused({"--redis-cluster", "http://h:1"}, "is not an address");
  refused({"--redis-cluster", "h:1", "--redis-prefix", "app{x}:"}, "must not contain { or }");
}

TEST(Config, MemoryBoundsHaveDefaultsAndAreChecked) {
  auto r = load({"--allow-anonymous"});
  ASSERT_TRUE(r.config) << r.message;
  EXPECT_EQ(r.config->write_timeout, std::chrono::seconds(10));
  EXPECT_EQ(r.config->history_max_bytes, 256u * 1024 * 1024);
  EXPECT_EQ(r.config->http_publish_rate_per_key, 0);
  EXPECT_EQ(r.config->http_publish_rate_per_user, 100);
  EXPECT_EQ(r.config->http_publish_rate_per_ip, 100);
  EXPECT_EQ(r.config->http_publish_burst, 200);
  auto set = load({"--allow-anonymous", "--write-timeout", "3", "--history-max-bytes", "0",
                   "--http-publish-rate-per-key", "1000"},
                  {"SWITCHBOARD_HTTP_PUBLISH_RATE_PER_IP=5"});
  ASSERT_TRUE(set.config) << set.message;
  EXPECT_EQ(set.config->write_timeout, std::chrono::seconds(3));
  EXPECT_EQ(set.config->history_max_bytes, 0u);
  EXPECT_EQ(set.config->http_publish_rate_per_key, 1000);
  EXPECT_EQ(set.config->http_publish_rate_per_ip, 5);
  EXPECT_EQ(load({"--allow-anonymous", "--write-timeout", "0"}).exit_code, 2);
  EXPECT_EQ(load({"--allow-anonymous", "--history-max-bytes", "1000"}).exit_code, 2);
  EXPECT_EQ(load({"--allow-anonymous", "--http-publish-rate-per-user", "-1"}).exit_code, 2);
  EXPECT_EQ(load({"--allow-anonymous", "--http-publish-burst", "0"}).exit_code, 2);
}

TEST(Config, LongPollingHasItsTimeoutAndGrace) {
  auto r = load({"--allow-anonymous"});
  ASSERT_TRUE(r.config) << r.message;
  EXPECT_EQ(r.config->poll_timeout, std::chrono::seconds(25));
  EXPECT_EQ(r.config->poll_grace, std::chrono::seconds(10));
  auto set = load({"--allow-anonymous", "--poll-timeout", "5"}, {"SWITCHBOARD_POLL_GRACE=30"});
  ASSERT_TRUE(set.config) << set.message;
  EXPECT_EQ(set.config->poll_timeout, std::chrono::seconds(5));
  EXPECT_EQ(set.config->poll_grace, std::chrono::seconds(30));
  EXPECT_EQ(load({"--allow-anonymous", "--poll-timeout", "0"}).exit_code, 2);
  EXPECT_EQ(load({"--allow-anonymous", "--poll-grace", "-1"}).exit_code, 2);
  EXPECT_NE(load({"--help"}).message.find("--poll-grace"), std::string::npos);
}

TEST(Config, TokenLimitsAreOffByDefault) {
  auto r = load({"--allow-anonymous"});
  ASSERT_TRUE(r.config) << r.message;
  EXPECT_FALSE(r.config->token_limits);
  auto on = load({"--allow-anonymous", "--token-limits"});
  ASSERT_TRUE(on.config) << on.message;
  EXPECT_TRUE(on.config->token_limits);
  auto by_env = load({"--allow-anonymous"}, {"SWITCHBOARD_TOKEN_LIMITS=true"});
  ASSERT_TRUE(by_env.config) << by_env.message;
  EXPECT_TRUE(by_env.config->token_limits);
}

TEST(Config, TheDashboardIsOffByDefaultAndNeedsItsKey) {
  auto off = load({"--allow-anonymous"});
  ASSERT_TRUE(off.config) << off.message;
  EXPECT_FALSE(off.config->admin);
  EXPECT_NE(load({"--help"}).message.find("--admin-key"), std::string::npos);
  // The key from the environment, as the operator guide advises.
  auto on = load({"--allow-anonymous", "--admin"}, {"SWITCHBOARD_ADMIN_KEY=admin-key-0123456789"});
  ASSERT_TRUE(on.config) << on.message;
  EXPECT_TRUE(on.config->admin);
  EXPECT_EQ(on.config->admin_key, "admin-key-0123456789");
  auto no_key = load({"--allow-anonymous", "--admin"});
  EXPECT_EQ(no_key.exit_code, 2);
  EXPECT_NE(no_key.message.find("--admin needs --admin-key"), std::string::npos) << no_key.message;
  EXPECT_EQ(load({"--allow-anonymous", "--admin", "--admin-key", "short"}).exit_code, 2);
  auto key_alone = load({"--allow-anonymous", "--admin-key", "admin-key-0123456789"});
  EXPECT_EQ(key_alone.exit_code, 2);
  EXPECT_NE(key_alone.message.find("--admin-key goes with --admin"), std::string::npos) << key_alone.message;
}
