// End-to-end latency samples and their percentiles.
#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

namespace switchboard::bench {

class LatencyRecorder {
 public:
  void reserve(std::size_t n) { samples_.reserve(n); }
  void add(std::int64_t ns) { samples_.push_back(ns); }
  std::size_t count() const { return samples_.size(); }
  // {"samples", "p50_us", "p90_us", "p99_us", "p999_us", "max_us", "mean_us"}; sorts the samples.
  nlohmann::ordered_json summary();

 private:
  std::vector<std::int64_t> samples_;
};

}  // namespace switchboard::bench
