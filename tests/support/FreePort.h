#pragma once
// A TCP port on 127.0.0.1 that nothing listens on right now (the kernel's choice for a socket
// bound to port 0), for the servers the tests start. Throws std::runtime_error.
#include <cstdint>

namespace switchboard::test {

std::uint16_t free_port();

}  // namespace switchboard::test
