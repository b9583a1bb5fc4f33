#pragma once
// One question to one Redis server on a connection of its own, made for it and closed after
// the answer: AUTH when the address has a password, then the command. For what a node asks
// now and then of any node it can reach (a Redis Cluster's CLUSTER SLOTS), not for traffic.
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "redis/Resp2Socket.h"

namespace switchboard::cluster {

struct RedisQuery {
  // The command's reply (an error reply included), or nullptr and why, when there was none
  // within `timeout` (connect, AUTH and answer together).
  using Done = std::function<void(const redisReply* reply, const std::string& error)>;
  static void ask(const Resp2Socket::Strand& strand, const RedisAddress& address, std::vector<std::string> command,
                  std::chrono::milliseconds timeout, Done done);
};

}  // namespace switchboard::cluster
