// One command to a redis-server on 127.0.0.1, on a hiredis connection of its own: the benchmark's
// way of checking its servers, forming a Redis Cluster and asking it where rooms live.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace switchboard::bench {

// Sends `args` as one RESP command and returns the reply's text: a simple string or error
// ("-ERR …") as it is, an integer's digits, a bulk string's contents. nullopt when the server does
// not answer (not listening, connection closed) or the reply is an array or a null.
std::optional<std::string> redis_command(std::uint16_t port, const std::vector<std::string>& args);

// Calls and µs per command since the server started (INFO commandstats: "cmdstat_<name>:calls=…,
// usec=…"; a script's own commands are counted too, and within the script's time). Empty when
// it does not answer.
struct RedisCommandStat {
  std::int64_t calls = 0, usec = 0;
};
std::map<std::string, RedisCommandStat> redis_command_stats(std::uint16_t port);

// The value of `field` in an INFO-like reply ("field:value" lines), "" when absent.
std::string redis_info_field(const std::string& info, const std::string& field);

}  // namespace switchboard::bench
