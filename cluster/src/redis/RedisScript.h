#pragma once
// A Lua script the node runs in Redis: its text, loaded once per connection (SCRIPT LOAD), and
// the SHA1 digest it is then called by (EVALSHA). Every key a script touches comes in KEYS; its
// ARGV carry data only (what to store, counts, times), never a key name nor a push's JSON.
#include <string>
#include <string_view>

namespace switchboard::cluster {

class RedisScript {
 public:
  // `name` is for the log; `text` must outlive the script (a string literal).
  RedisScript(std::string_view name, std::string_view text);

  std::string_view name() const { return name_; }
  std::string_view text() const { return text_; }
  const std::string& sha() const { return sha_; }

 private:
  std::string_view name_;
  std::string_view text_;
  std::string sha_;
};

}  // namespace switchboard::cluster
