// soak: a bounded soak test (minutes, not hours). Long-lived "witness" subscribers stay connected
// while a publisher publishes continuously and 10,000 short connections are opened and closed
// (20 % of them dropped without a close frame). Afterwards: every acknowledged message reached
// every witness once and in order, the node's descriptors (/proc/<pid>/fd) are back to their
// baseline, and its RSS is back near its baseline. The result's "passed" is false (and the exit
// status 3) when a message was lost, duplicated or reordered, a descriptor leaked, the node died,
// or the run did not get through (see "problems"); RSS is reported (rss_returned), not judged.
#pragma once

#include <nlohmann/json.hpp>

#include "Options.h"

namespace switchboard::bench {

class SoakWorkload {
 public:
  static nlohmann::ordered_json run(Options& options);
};

}  // namespace switchboard::bench
