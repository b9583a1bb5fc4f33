#include "redis/RedisScript.h"

#include <openssl/sha.h>

#include "switchboard/cluster/RandomId.h"

namespace switchboard::cluster {

namespace {
std::string sha1_hex(std::string_view text) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return to_hex({digest, sizeof digest});
}
}  // namespace

RedisScript::RedisScript(std::string_view name, std::string_view text)
    : name_(name), text_(text), sha_(sha1_hex(text)) {}

RedisScript RedisScript::tagged(std::string_view tag, std::string_view publish) const {
  RedisScript copy(name_, text_);
  copy.own_text_ =
      "-- " + std::string(tag) + "\nlocal PUBLISH = '" + std::string(publish) + "'\n" + std::string(text_);
  copy.sha_ = sha1_hex(copy.own_text_);
  return copy;
}

}  // namespace switchboard::cluster
