#pragma once
// A Lua script call's keys and arguments, kept until Redis ran it (it may be sent more than
// once: after NOSCRIPT, or a redirection). `payloads` follow `args` in ARGV, sent as they are.
//
// `wait` (--redis-wait-replicas): `WAIT replicas timeout` goes right behind the script's EVALSHA,
// on the same connection, as one unit: its answer counts the replicas that have that
// connection's writes, the script's included. A unit the link or the router sends again (after
// NOSCRIPT, -MOVED, -ASK, -TRYAGAIN) is sent whole again, and the answer of the WAIT that followed
// the refused script is dropped.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchboard/protocol/Payload.h"

namespace switchboard::cluster {

struct ScriptCall {
  struct Wait {
    unsigned replicas = 0;
    std::chrono::milliseconds timeout{0};
  };
  std::vector<std::string> keys;
  std::vector<std::string> args;
  std::vector<protocol::Payload> payloads;
  std::optional<Wait> wait;

  // The words of `EVALSHA sha key-count keys… args… payloads…`: views into this call, `sha` and
  // `key_count` (the number of keys, as text), which outlive them.
  std::vector<std::string_view> evalsha(std::string_view sha, const std::string& key_count) const {
    std::vector<std::string_view> words{"EVALSHA", sha, key_count};
    words.reserve(words.size() + keys.size() + args.size() + payloads.size());
    for (const auto& key : keys) words.push_back(key);
    for (const auto& arg : args) words.push_back(arg);
    for (const auto& payload : payloads) words.push_back(*payload);
    return words;
  }
};

}  // namespace switchboard::cluster
