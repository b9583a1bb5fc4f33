#pragma once
#include <cstdint>

namespace switchboard::cluster {
// Unique among the connections of one node, never reused while the node runs.
using ConnectionId = std::uint64_t;
}
