#include "switchboard/cluster/RandomId.h"

#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

namespace switchboard::cluster {

std::string random_id(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1)
    throw std::runtime_error("the random number generator failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  id.reserve(bytes * 2);
  for (unsigned char b : raw) {
    id += kHex[b >> 4];
    id += kHex[b & 0xf];
  }
  return id;
}

}  // namespace switchboard::cluster
