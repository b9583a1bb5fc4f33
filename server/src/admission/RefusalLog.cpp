#include "admission/RefusalLog.h"

#include "switchboard/server/Log.h"

namespace switchboard::server {

namespace {
constexpr std::size_t kMaxOriginBytes = 200;  // an Origin is the client's to choose: keep lines short
}

void RefusalLog::refused(std::string_view what, std::string_view address, std::string_view origin, unsigned status,
                         std::string_view code, TokenBucket::Clock::time_point now) {
  if (!log::enabled(log::Level::info)) return;
  auto before = budget_.take(now);
  if (!before) return;
  std::string line = "refused " + std::string(what) + " from " + (address.empty() ? "?" : std::string(address));
  if (!origin.empty()) {
    line += " (Origin " + std::string(origin.substr(0, kMaxOriginBytes));
    if (origin.size() > kMaxOriginBytes) line += "…";
    line += ')';
  }
  line += ": " + std::to_string(status) + ' ' + std::string(code);
  line += LogBudget::line_suffix(*before, "refusals");
  log::info(line);
}

}  // namespace switchboard::server
