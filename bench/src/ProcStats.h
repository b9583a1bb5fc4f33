// CPU time and resident memory of a process, from /proc.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace switchboard::bench {

struct ProcStats {
  std::int64_t cpu_us = 0;   // utime + stime of /proc/<pid>/stat (all threads), in microseconds
  std::int64_t sys_us = 0;   // of which stime: in the kernel (system calls, and what they run)
  std::int64_t rss_kib = 0;  // VmRSS of /proc/<pid>/status

  // The process's figures now; both -1 if it is gone.
  static ProcStats of(pid_t pid);
  // The number of entries of /proc/<pid>/fd: its open descriptors (sockets, epoll, eventfd,
  // log, …); -1 if it is gone.
  static long open_fds(pid_t pid);
  // CPU time of this process (getrusage), in microseconds.
  static std::int64_t self_cpu_us();
};

}  // namespace switchboard::bench
