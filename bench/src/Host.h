// The machine the benchmark runs on, and the client process's own setup: pinned to one CPU,
// file-descriptor limit raised.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace switchboard::bench {

class Host {
 public:
  // Pins the calling process to `cpu` (sched_setaffinity); false if that CPU is not available.
  static bool pin_to_cpu(int cpu);
  // Raises the RLIMIT_NOFILE soft limit to the hard limit; returns the new soft limit.
  static long raise_fd_limit();
  static int cpus();
  // {"cpu": the model name, "cores": n, "kernel": uname -r, "loadavg_1m": of /proc/loadavg}
  static nlohmann::ordered_json describe();
};

}  // namespace switchboard::bench
