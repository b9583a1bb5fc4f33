// What the clients of a soak run note besides their figures: errors by reason, and frames that
// are neither a reply nor a message of the soak.
#pragma once

#include <cstddef>
#include <map>
#include <string>

namespace switchboard::bench {

struct SoakLog {
  std::map<std::string, std::size_t> errors;
  std::size_t other_frames = 0;

  void error(const std::string& reason) { ++errors[reason]; }
};

}  // namespace switchboard::bench
