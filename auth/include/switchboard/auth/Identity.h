#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace switchboard::auth {

// Who a connection is, decided once at the handshake.
struct Identity {
  std::string user;                                    // the user id: "from" of messages, presence key
  nlohmann::json info = nlohmann::json::object();      // shown to others in presence
};

}  // namespace switchboard::auth
