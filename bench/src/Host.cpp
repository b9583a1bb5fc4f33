#include "Host.h"

#include <sched.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>

namespace switchboard::bench {

bool Host::pin_to_cpu(int cpu) {
  if (cpu < 0 || cpu >= cpus()) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof set, &set) == 0;
}

long Host::raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  getrlimit(RLIMIT_NOFILE, &limit);
  return static_cast<long>(limit.rlim_cur);
}

int Host::cpus() { return static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)); }

nlohmann::ordered_json Host::describe() {
  std::string model;
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  utsname u{};
  uname(&u);
  // Other work on the machine skews every figure: the 1-minute load average says how much there was.
  double load = -1;
  std::ifstream("/proc/loadavg") >> load;
  return {{"cpu", model}, {"cores", cpus()}, {"kernel", u.release}, {"loadavg_1m", load}};
}

}  // namespace switchboard::bench
