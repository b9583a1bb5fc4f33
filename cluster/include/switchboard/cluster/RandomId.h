#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace switchboard::cluster {

// `bytes` random bytes from OpenSSL's generator, as lower-case hex: node ids and history
// epochs. Throws std::runtime_error when the generator fails.
std::string random_id(std::size_t bytes = 8);

// Bytes as lower-case hex.
std::string to_hex(std::basic_string_view<unsigned char> bytes);

}  // namespace switchboard::cluster
