#pragma once
// A Lua script call's keys and arguments, kept until Redis ran it (it may be sent more than
// once: after NOSCRIPT, or a redirection). `payloads` follow `args` in ARGV, sent as they are.
#include <string>
#include <vector>

#include "switchboard/protocol/Payload.h"

namespace switchboard::cluster {

struct ScriptCall {
  std::vector<std::string> keys;
  std::vector<std::string> args;
  std::vector<protocol::Payload> payloads;
};

}  // namespace switchboard::cluster
