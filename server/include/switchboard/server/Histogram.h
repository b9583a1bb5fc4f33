#pragma once
// A Prometheus histogram: fixed bucket bounds, counted with relaxed atomics so that any thread
// may observe without a lock, rendered as <name>_bucket{le=…}, <name>_sum and <name>_count.
// It is on the delivery path (twice per message written), so an observation is two atomic
// additions: the sum is kept as a whole number of `resolution` (1 for bytes, 1e-9 for seconds).
#include <atomic>
#include <cstdint>
#include <memory>
#include <ostream>
#include <vector>

namespace switchboard::server {

class Histogram {
 public:
  Histogram(std::vector<double> bounds, double resolution);

  void observe(double value);
  // # HELP, # TYPE and the samples; `labels` (e.g. `kind="x"`) is added to every sample.
  void render(std::ostream& out, const char* name, const char* help) const;
  std::uint64_t count() const;

 private:
  std::vector<double> bounds_;  // ascending; an implicit +Inf bucket follows
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // per bucket, not cumulative
  double resolution_;
  double per_unit_;  // 1 / resolution_
  std::atomic<std::uint64_t> sum_{0};  // in units of resolution_
};

}  // namespace switchboard::server
