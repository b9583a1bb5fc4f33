#pragma once
// redis-cli, as the tests run it against the Redis servers they start (the redis-cli found at
// configure time).
#include <cstdint>
#include <string>

namespace switchboard::test {

struct RedisCliResult {
  std::string out;  // what it printed, stderr included
  int status = -1;  // as pclose() returns it
};

// Runs `redis-cli <args>`.
RedisCliResult run_redis_cli(const std::string& args);

// redis-cli against 127.0.0.1:port (no redirections followed); what it printed.
std::string redis_cli(std::uint16_t port, const std::string& args);

}  // namespace switchboard::test
