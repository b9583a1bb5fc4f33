#pragma once
#include <cstddef>
#include <string>

namespace switchboard::cluster {

// `bytes` random bytes from OpenSSL's generator, as lower-case hex: node ids and history
// epochs. Throws std::runtime_error when the generator fails.
std::string random_id(std::size_t bytes = 8);

}  // namespace switchboard::cluster
