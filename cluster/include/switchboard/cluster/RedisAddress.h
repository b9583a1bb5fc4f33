#pragma once
// Where a node finds Redis: parsed from --redis redis://[:password@]host[:port][/db].
#include <cstdint>
#include <string>
#include <string_view>

namespace switchboard::cluster {

struct RedisAddress {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::string password;  // AUTH when not empty
  int db = 0;            // SELECT when not 0

  // Throws std::invalid_argument with a message for the operator.
  static RedisAddress parse(std::string_view url);
  // The URL without the password, for logs.
  std::string describe() const;
};

}  // namespace switchboard::cluster
