#pragma once
// A Prometheus histogram: fixed bucket bounds, counted with relaxed atomics so that any thread
// may observe without a lock, rendered as <name>_bucket{le=…}, <name>_sum and <name>_count.
// It is on the delivery path, so an observation is two atomic additions: the sum is kept as a
// whole number of `resolution` (1 for bytes, 1e-9 for seconds). A Batch gathers many
// observations on one thread and adds them at once (the write path observes every frame).
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <ostream>
#include <vector>

namespace switchboard::server {

class Histogram {
 public:
  static constexpr std::size_t kMaxBuckets = 24;  // bounds + the +Inf bucket

  Histogram(std::vector<double> bounds, double resolution);

  void observe(double value);

  // Observations counted locally and added to the histogram when it is destroyed: one atomic
  // addition per bucket touched, and one for the sum.
  class Batch {
   public:
    explicit Batch(Histogram& histogram) : histogram_(histogram) {}
    ~Batch();
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;
    void observe(double value);

   private:
    Histogram& histogram_;
    std::array<std::uint64_t, kMaxBuckets> counts_{};
    std::uint64_t sum_ = 0;
    std::size_t last_ = 0;  // the bucket of the previous observation, tried first
  };
  // # HELP, # TYPE and the samples; `labels` (e.g. `kind="x"`) is added to every sample.
  void render(std::ostream& out, const char* name, const char* help) const;
  std::uint64_t count() const;

 private:
  std::size_t bucket_of(double value) const;
  std::uint64_t units_of(double value) const;

  std::vector<double> bounds_;  // ascending; an implicit +Inf bucket follows
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // per bucket, not cumulative
  double resolution_;
  double per_unit_;  // 1 / resolution_
  std::atomic<std::uint64_t> sum_{0};  // in units of resolution_
};

}  // namespace switchboard::server
