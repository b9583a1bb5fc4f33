#include "NatsStream.h"

#include <charconv>

namespace switchboard::bench {

NatsStream::Kind NatsStream::kind_of(std::string_view line) {
  // The server sends its operations in upper case.
  if (line.starts_with("MSG ")) return Kind::msg;
  if (line == "PING") return Kind::ping;
  if (line == "PONG") return Kind::pong;
  if (line.starts_with("INFO ")) return Kind::info;
  if (line == "+OK") return Kind::ok;
  if (line.starts_with("-ERR")) return Kind::err;
  return Kind::other;
}

bool NatsStream::parse_msg_line(std::string_view line, std::string_view& subject, std::size_t& bytes) {
  line.remove_prefix(4);
  auto space = line.find(' ');
  if (space == std::string_view::npos) return false;
  subject = line.substr(0, space);
  // The size is the last field (a reply subject may come before it).
  auto last = line.rfind(' ');
  if (last == space) return false;
  auto count = line.substr(last + 1);
  auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), bytes);
  return ec == std::errc() && end == count.data() + count.size();
}

std::string NatsStream::connect_command() {
  return "CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\n";
}

std::string NatsStream::sub_command(std::string_view subject, std::string_view sid) {
  std::string command = "SUB ";
  command.append(subject);
  command += ' ';
  command.append(sid);
  command += "\r\n";
  return command;
}

std::string NatsStream::pub_command(std::string_view subject, std::string_view payload) {
  std::string command = "PUB ";
  command.reserve(subject.size() + payload.size() + 32);
  command.append(subject);
  command += ' ';
  command += std::to_string(payload.size());
  command += "\r\n";
  command.append(payload);
  command += "\r\nPING\r\n";
  return command;
}

}  // namespace switchboard::bench
