#pragma once
// A script call sent with its WAIT right behind it (ScriptCall::wait), as one unit on one
// connection: what the handlers of the unit's two answers share. When Redis refuses the script
// (NOSCRIPT) and the unit is sent again whole, the answer of the WAIT behind the refused script
// is dropped: the unit sent again has its own.
#include <hiredis/hiredis.h>

#include <memory>
#include <string>

#include "redis/RedisConnection.h"
#include "redis/ScriptCall.h"

namespace switchboard::cluster {

struct ScriptUnit {
  bool sent_again = false;   // the script was refused and the unit sent again
  bool wait_unsent = false;  // the WAIT could not be sent: the script's handler reports it lost

  // Sends `WAIT replicas timeout` on `connection`, which has just been handed the unit's script;
  // `waited` gets its answer, unless the unit was sent again meanwhile.
  static void send_wait(const std::shared_ptr<ScriptUnit>& unit, RedisConnection& connection,
                        const ScriptCall::Wait& wait, RedisConnection::ReplyHandler waited) {
    bool sent =
        connection.command({"WAIT", std::to_string(wait.replicas), std::to_string(wait.timeout.count())},
                           [unit, waited = std::move(waited)](redisReply* reply) {
                             if (!unit->sent_again) waited(reply);
                           });
    if (!sent) unit->wait_unsent = true;
  }
};

}  // namespace switchboard::cluster
