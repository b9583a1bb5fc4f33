#pragma once
// A Lua script the node runs in Redis: its text, loaded once per connection (SCRIPT LOAD), and
// the SHA1 digest it is then called by (EVALSHA). Every key a script touches comes in KEYS; its
// ARGV carry data only (what to store, counts, times), never a key name nor a push's JSON. A
// script publishes with `redis.call(PUBLISH, …)`: the node's copy (tagged()) names the command.
//
// A node loads its own copy of each script (tagged(): the text under a first line naming the
// node's link, so a digest of its own). Redis keeps one script cache for all its clients: were
// the digests shared, another node's SCRIPT LOAD after a SCRIPT FLUSH could let a later call of
// this node run while an earlier one, refused with NOSCRIPT, waits to be sent again. With its own
// digests, only the node's own SCRIPT LOAD (sent behind every call in flight on its connection)
// brings them back: every call in flight is refused, and all are sent again in their order.
#include <string>
#include <string_view>

namespace switchboard::cluster {

class RedisScript {
 public:
  // `name` is for the log; `text` must outlive the script (a string literal).
  RedisScript(std::string_view name, std::string_view text);

  // The same script under a first line `-- <tag>`: the same code, a digest of its own. Then
  // the link's choices the scripts use: `PUBLISH`, the command that publishes on a room's
  // channel ('PUBLISH', or 'SPUBLISH' for a Redis Cluster's sharded channels).
  RedisScript tagged(std::string_view tag, std::string_view publish = "PUBLISH") const;

  std::string_view name() const { return name_; }
  std::string_view text() const { return own_text_.empty() ? text_ : std::string_view(own_text_); }
  const std::string& sha() const { return sha_; }

 private:
  std::string_view name_;
  std::string own_text_;  // a tagged copy's text; empty for a literal
  std::string_view text_;
  std::string sha_;
};

}  // namespace switchboard::cluster
