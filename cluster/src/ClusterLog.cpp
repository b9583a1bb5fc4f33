#include "switchboard/cluster/ClusterLog.h"

#include <iostream>
#include <mutex>
#include <string>

namespace switchboard::cluster {

namespace {
// Each node installs its logger when it is made, possibly while another node of the same process
// (in tests) logs from its Redis strand: the handler is read and replaced under a lock, and
// called outside it.
std::mutex mutex;
LogHandler& handler() {
  static LogHandler h;
  return h;
}
}  // namespace

void set_log_handler(LogHandler h) {
  std::lock_guard lock(mutex);
  handler() = std::move(h);
}

void log(LogSeverity severity, std::string_view text) {
  LogHandler current;
  {
    std::lock_guard lock(mutex);
    current = handler();
  }
  if (current) return current(severity, text);
  std::cerr << (severity == LogSeverity::warn ? "warn " : "info ") << text << '\n';
}

}  // namespace switchboard::cluster
