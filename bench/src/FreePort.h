// A free TCP port on 127.0.0.1: bind port 0, read the port the kernel chose, close.
#pragma once

#include <cstdint>

namespace switchboard::bench {

std::uint16_t free_port();

}  // namespace switchboard::bench
