#include "LatencyRecorder.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace switchboard::bench {

nlohmann::ordered_json LatencyRecorder::summary() {
  nlohmann::ordered_json out{{"samples", samples_.size()}};
  if (samples_.empty()) return out;
  std::sort(samples_.begin(), samples_.end());
  auto us = [](double ns) { return std::round(ns / 10.0) / 100.0; };  // µs with 2 decimals
  auto at = [&](double q) {
    auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(samples_.size())));
    return us(static_cast<double>(samples_[std::clamp<std::size_t>(rank, 1, samples_.size()) - 1]));
  };
  double mean = std::accumulate(samples_.begin(), samples_.end(), 0.0) / static_cast<double>(samples_.size());
  out["p50_us"] = at(0.50);
  out["p90_us"] = at(0.90);
  out["p99_us"] = at(0.99);
  out["p999_us"] = at(0.999);
  out["max_us"] = us(static_cast<double>(samples_.back()));
  out["mean_us"] = us(mean);
  return out;
}

}  // namespace switchboard::bench
