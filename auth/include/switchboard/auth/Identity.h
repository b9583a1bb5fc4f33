#pragma once
#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "switchboard/auth/RoomPermissions.h"
#include "switchboard/auth/TokenLimits.h"

namespace switchboard::auth {

// Who a connection is and what it may do, decided at the handshake (and renewed by a refresh).
struct Identity {
  std::string user;                                // the user id: "from" of messages, presence key
  nlohmann::json info = nlohmann::json::object();  // shown to others in presence
  RoomPermissions permissions = RoomPermissions::unrestricted();
  // The token's "exp": the connection must refresh its token before then. Empty without a token
  // (anonymous) or for a token without "exp".
  std::optional<std::chrono::system_clock::time_point> expires_at;
  // The token's "limits" claim, on a node that honours it (--token-limits); empty otherwise:
  // the node's own limits apply.
  std::optional<TokenLimits> limits;
  // The handshake token's "jti" (its id), when it has a string one: what the server API's
  // deny-list names a token by. A refresh keeps the handshake's.
  std::string token_id;
};

}  // namespace switchboard::auth
