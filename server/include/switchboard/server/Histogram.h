#pragma once
// A Prometheus histogram: fixed bucket bounds, counted with relaxed atomics so that any thread
// may observe without a lock, rendered as <name>_bucket{le=…}, <name>_sum and <name>_count.
#include <atomic>
#include <cstdint>
#include <memory>
#include <ostream>
#include <vector>

namespace switchboard::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);

  void observe(double value);
  // # HELP, # TYPE and the samples; `labels` (e.g. `kind="x"`) is added to every sample.
  void render(std::ostream& out, const char* name, const char* help) const;
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;  // ascending; an implicit +Inf bucket follows
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // per bucket, not cumulative
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

}  // namespace switchboard::server
