#include "RedisCli.h"

#include <array>
#include <cstdio>

namespace switchboard::test {

RedisCliResult run_redis_cli(const std::string& args) {
  RedisCliResult result;
  std::string command = SWITCHBOARD_REDIS_CLI " " + args + " 2>&1";
  if (FILE* f = ::popen(command.c_str(), "r")) {
    std::array<char, 4096> buf;
    while (auto n = std::fread(buf.data(), 1, buf.size(), f)) result.out.append(buf.data(), n);
    result.status = ::pclose(f);
  }
  return result;
}

std::string redis_cli(std::uint16_t port, const std::string& args) {
  return run_redis_cli("-h 127.0.0.1 -p " + std::to_string(port) + " " + args).out;
}

}  // namespace switchboard::test
