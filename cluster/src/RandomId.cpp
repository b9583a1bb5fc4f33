#include "switchboard/cluster/RandomId.h"

#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

namespace switchboard::cluster {

std::string random_id(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1)
    throw std::runtime_error("the random number generator failed");
  return to_hex({raw.data(), raw.size()});
}

std::string to_hex(std::basic_string_view<unsigned char> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

}  // namespace switchboard::cluster
