#include "RedisCommand.h"

#include <hiredis/hiredis.h>

#include <memory>
#include <sstream>

namespace switchboard::bench {

std::optional<std::string> redis_command(std::uint16_t port, const std::vector<std::string>& args) {
  timeval timeout{2, 0};
  std::unique_ptr<redisContext, void (*)(redisContext*)> c(redisConnectWithTimeout("127.0.0.1", port, timeout),
                                                            redisFree);
  if (!c || c->err || redisSetTimeout(c.get(), timeout) != REDIS_OK) return std::nullopt;
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  std::unique_ptr<redisReply, void (*)(void*)> reply(
      static_cast<redisReply*>(redisCommandArgv(c.get(), static_cast<int>(argv.size()), argv.data(), lengths.data())),
      freeReplyObject);
  if (!reply) return std::nullopt;
  switch (reply->type) {
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_STRING:
      return std::string(reply->str, reply->len);
    case REDIS_REPLY_ERROR:
      return "-" + std::string(reply->str, reply->len);
    case REDIS_REPLY_INTEGER:
      return std::to_string(reply->integer);
    default:
      return std::nullopt;
  }
}

std::map<std::string, RedisCommandStat> redis_command_stats(std::uint16_t port) {
  std::map<std::string, RedisCommandStat> stats;
  auto info = redis_command(port, {"INFO", "commandstats"});
  if (!info) return stats;
  constexpr std::string_view prefix = "cmdstat_";
  std::istringstream lines(*info);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with(prefix)) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto value_of = [&](const std::string& key) -> std::int64_t {
      auto pos = line.find(key + "=", colon);
      return pos == std::string::npos ? 0 : std::stoll(line.substr(pos + key.size() + 1));
    };
    auto& stat = stats[line.substr(prefix.size(), colon - prefix.size())];
    stat.calls = value_of("calls");
    stat.usec = value_of("usec");
  }
  return stats;
}

std::string redis_info_field(const std::string& info, const std::string& field) {
  const std::string key = field + ":";
  for (std::size_t pos = 0; pos < info.size();) {
    auto end = info.find('\n', pos);
    if (end == std::string::npos) end = info.size();
    if (info.compare(pos, key.size(), key) == 0) {
      auto value = info.substr(pos + key.size(), end - pos - key.size());
      if (!value.empty() && value.back() == '\r') value.pop_back();
      return value;
    }
    pos = end + 1;
  }
  return "";
}

}  // namespace switchboard::bench
