#include "admission/TokenBucket.h"

#include <algorithm>
#include <sstream>

namespace switchboard::server {

TokenBucket::TokenBucket(double rate, double burst, Clock::time_point now)
    : rate_(rate), burst_(burst), tokens_(burst), last_(now) {}

bool TokenBucket::try_take(Clock::time_point now) {
  if (rate_ <= 0) return true;
  std::chrono::duration<double> elapsed = now - last_;
  last_ = now;
  tokens_ = std::min(burst_, tokens_ + elapsed.count() * rate_);
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

std::string rate_text(double n) {
  std::ostringstream out;
  out << n;
  return out.str();
}

}  // namespace switchboard::server
