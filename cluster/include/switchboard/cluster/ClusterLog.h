#pragma once
// Where the cluster module's few log lines (Redis connections lost and made again) go: the node
// installs its logger; without one they go to stderr as plain lines.
#include <functional>
#include <string_view>

namespace switchboard::cluster {

enum class LogSeverity { info, warn };
using LogHandler = std::function<void(LogSeverity, std::string_view)>;

// Set at startup, before the broker starts; safe to call while another node logs.
void set_log_handler(LogHandler handler);
void log(LogSeverity severity, std::string_view text);

}  // namespace switchboard::cluster
