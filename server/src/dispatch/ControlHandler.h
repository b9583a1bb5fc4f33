#pragma once
// Answers the control channel's queries on this node (the server API's acts and questions, asked
// by whichever node a backend called: cluster::ControlChannel), from the node's connections, its
// room registry and its deny-list. The queries and their answers, JSON (PROTOCOL.md, "Control
// channel"):
//   {"op":"disconnect","user":U,"jti":T,"code":C,"reason":R,"until":MS}  → {"closed":N}
//       closes the connections of U (and/or of token T) with C and R; with "until" (milliseconds
//       since the epoch), refuses their handshakes until then (the deny-list)
//   {"op":"unsubscribe","user":U,"room":R}                               → {"unsubscribed":N}
//   {"op":"rooms","pattern":P,"after":A,"limit":L}                       → {"rooms":[[name,subscribers],…],"more":B}
//   {"op":"user","user":U}                                               → {"connections":N,"rooms":[…]}
//   {"op":"node"}                                                        → this node's facts (the operator
//       dashboard's: id, version, uptime, readiness, Redis; AdminRoutes::node_facts)
// Anything else is answered null. Thread-safe: its parts are.
#include <functional>
#include <nlohmann/json.hpp>

#include "admission/DenyList.h"
#include "dispatch/Dispatcher.h"

namespace switchboard::server {

class ControlHandler {
 public:
  ControlHandler(Dispatcher& dispatcher, DenyList& denied) : dispatcher_(dispatcher), denied_(denied) {}

  nlohmann::json answer(const nlohmann::json& query);
  // Before the node starts: what answers the "node" query.
  void set_node_facts(std::function<nlohmann::json()> facts) { node_facts_ = std::move(facts); }

 private:
  Dispatcher& dispatcher_;
  DenyList& denied_;
  std::function<nlohmann::json()> node_facts_;
};

}  // namespace switchboard::server
