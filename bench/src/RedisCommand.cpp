#include "RedisCommand.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <istream>
#include <sstream>

namespace switchboard::bench {

namespace net = boost::asio;

std::optional<std::string> redis_command(std::uint16_t port, const std::vector<std::string>& args) {
  try {
    net::io_context ioc;
    net::ip::tcp::socket socket(ioc);
    socket.connect({net::ip::make_address("127.0.0.1"), port});
    std::string request = "*" + std::to_string(args.size()) + "\r\n";
    for (const auto& a : args) request += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    net::write(socket, net::buffer(request));
    net::streambuf in;
    net::read_until(socket, in, "\r\n");
    std::istream stream(&in);
    std::string line;
    std::getline(stream, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) return std::nullopt;
    switch (line[0]) {
      case '+':
      case ':':
        return line.substr(1);
      case '-':
        return line;
      case '$': {
        const long length = std::stol(line.substr(1));
        if (length < 0) return std::nullopt;
        const auto wanted = static_cast<std::size_t>(length) + 2;  // and its \r\n
        if (in.size() < wanted) net::read(socket, in, net::transfer_exactly(wanted - in.size()));
        std::string body(static_cast<std::size_t>(length), '\0');
        stream.read(body.data(), length);
        return body;
      }
      default:
        return std::nullopt;
    }
  } catch (const std::exception&) {
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
