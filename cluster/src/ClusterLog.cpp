#include "switchboard/cluster/ClusterLog.h"

#include <iostream>
#include <string>

namespace switchboard::cluster {

namespace {
LogHandler& handler() {
  static LogHandler h;
  return h;
}
}  // namespace

void set_log_handler(LogHandler h) { handler() = std::move(h); }

void log(LogSeverity severity, std::string_view text) {
  if (handler()) return handler()(severity, text);
  std::cerr << (severity == LogSeverity::warn ? "warn " : "info ") << text << '\n';
}

}  // namespace switchboard::cluster
