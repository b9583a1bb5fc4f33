#include "admission/RefusalLog.h"

#include "switchboard/server/Log.h"

namespace switchboard::server {

namespace {
constexpr std::size_t kMaxOriginBytes = 200;  // an Origin is the client's to choose: keep lines short
}

void RefusalLog::refused(std::string_view what, std::string_view address, std::string_view origin, unsigned status,
                         std::string_view code, TokenBucket::Clock::time_point now) {
  if (!log::enabled(log::Level::info)) return;
  std::uint64_t before = 0;
  {
    std::lock_guard lock(mutex_);
    if (!bucket_.try_take(now)) {
      ++pending_;
      ++left_out_;
      return;
    }
    before = pending_;
    pending_ = 0;
  }
  std::string line = "refused " + std::string(what) + " from " + (address.empty() ? "?" : std::string(address));
  if (!origin.empty()) {
    line += " (Origin " + std::string(origin.substr(0, kMaxOriginBytes));
    if (origin.size() > kMaxOriginBytes) line += "…";
    line += ')';
  }
  line += ": " + std::to_string(status) + ' ' + std::string(code);
  if (before > 0) line += " (" + std::to_string(before) + " more refusals left out of the log before this one)";
  log::info(line);
}

std::uint64_t RefusalLog::left_out() const {
  std::lock_guard lock(mutex_);
  return left_out_;
}

}  // namespace switchboard::server
