#include "redis/ShardLink.h"

#include <hiredis/hiredis.h>

#include "redis/RedisReply.h"
#include "redis/ScriptUnit.h"
#include "switchboard/cluster/ClusterLog.h"

namespace switchboard::cluster {

ShardLink::ShardLink(Strand strand, RedisAddress address, RedisTiming timing, std::vector<const RedisScript*> scripts)
    : address_(address),
      scripts_(std::move(scripts)),
      commands_(strand, address, "commands " + address.describe(), timing),
      subscriber_(strand, address, "subscriber " + address.describe(), timing) {}

ShardLink::~ShardLink() = default;

void ShardLink::start(StateHandler on_commands, StateHandler on_subscriber, ShardSubscriber::PushHandler on_push) {
  commands_.start([this, on_commands = std::move(on_commands)](bool up) {
    if (!up) {
      bool was_usable = usable_;
      usable_ = probing_ = false;
      if (was_usable) on_commands(false);
      return;
    }
    // The scripts go first: every call sent after them finds them.
    for (const RedisScript* script : scripts_)
      commands_.command(
          {"SCRIPT", "LOAD", script->text()}, [script, where = address_.describe()](redisReply* reply) {
            if (reply && reply->type == REDIS_REPLY_ERROR)
              log(LogSeverity::warn, "Redis " + where + " refused the " + std::string(script->name()) +
                                         " script: " + std::string(reply->str, reply->len));
          });
    // The master must know sharded pub/sub (Redis 7): the link is usable once it said so.
    probing_ = commands_.command({"COMMAND", "INFO", "SPUBLISH"}, [this, on_commands](redisReply* reply) {
      if (!reply || !commands_.up()) return;  // lost meanwhile: asked again when it comes back
      was_up_ = true;
      probing_ = false;
      if (!knows_sharded_pubsub(reply)) {
        log(LogSeverity::warn,
            "Redis " + address_.describe() +
                " does not know SPUBLISH: Redis 7 or newer is required for --redis-cluster "
                "(sharded pub/sub); the rooms of its slots are unavailable");
        return;
      }
      usable_ = true;
      on_commands(true);
    });
  });
  subscriber_.start(std::move(on_subscriber), std::move(on_push));
}

bool ShardLink::knows_sharded_pubsub(const redisReply* reply) {
  // COMMAND INFO answers one entry per command asked: the command's description (an array), or
  // nil for a command the server does not know (Redis 6 and older for SPUBLISH).
  if (!reply) return false;
  if (reply->type == REDIS_REPLY_ERROR) return true;
  return reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 && reply->element[0] &&
         reply->element[0]->type == REDIS_REPLY_ARRAY && reply->element[0]->elements > 0;
}

void ShardLink::stop() {
  subscriber_.stop();
  commands_.stop();
}

bool ShardLink::command(const std::vector<std::string_view>& args, bool asking, ReplyHandler done) {
  if (!commands_up()) return false;
  if (asking) commands_.command({"ASKING"}, [](redisReply*) {});
  return commands_.command(args, std::move(done));
}

bool ShardLink::run(const RedisScript& script, std::shared_ptr<const ScriptCall> call, bool asking,
                    ReplyHandler done, ReplyHandler waited) {
  if (call->wait && !waited) waited = [](redisReply*) {};
  return send_script(script, std::move(call), asking, true, std::move(done), std::move(waited));
}

bool ShardLink::send_script(const RedisScript& script, std::shared_ptr<const ScriptCall> call, bool asking,
                            bool may_reload, ReplyHandler done, ReplyHandler waited) {
  std::string key_count = std::to_string(call->keys.size());
  std::vector<std::string_view> args = call->evalsha(script.sha(), key_count);
  auto unit = std::make_shared<ScriptUnit>();
  bool sent =
      command(args, asking, [this, &script, call, asking, may_reload, done, waited, unit](redisReply* reply) {
        if (!may_reload || !error_of(reply).starts_with("NOSCRIPT")) {
          done(reply);
          if (unit->wait_unsent) waited(nullptr);
          return;
        }
        // This master has not the script: load it, and send the call (and its WAIT) once more behind it.
        unit->sent_again = true;
        log(LogSeverity::warn, "Redis " + address_.describe() + " lacks the " + std::string(script.name()) +
                                   " script (restarted, promoted, or SCRIPT FLUSH): loading it again");
        commands_.command({"SCRIPT", "LOAD", script.text()}, [](redisReply*) {});
        if (send_script(script, call, asking, false, done, waited)) return;
        done(nullptr);
        if (call->wait) waited(nullptr);
      });
  if (!sent) return false;
  if (call->wait) ScriptUnit::send_wait(unit, commands_, *call->wait, waited);
  return true;
}

}  // namespace switchboard::cluster
