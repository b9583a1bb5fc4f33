#pragma once
// Reading hiredis's replies: the text of an error reply.
#include <hiredis/hiredis.h>

#include <string_view>

namespace switchboard::cluster {

// The error's text ("NOSCRIPT …", "MOVED …"), or empty when `reply` is none or no error.
inline std::string_view error_of(const redisReply* reply) {
  if (!reply || reply->type != REDIS_REPLY_ERROR) return {};
  return {reply->str, reply->len};
}

}  // namespace switchboard::cluster
