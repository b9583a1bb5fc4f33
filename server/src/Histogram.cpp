#include "switchboard/server/Histogram.h"

#include <algorithm>

namespace switchboard::server {

Histogram::Histogram(std::vector<double> bounds, double resolution)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<std::uint64_t>[bounds_.size() + 1]), resolution_(resolution),
      per_unit_(1 / resolution) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double value) {
  auto index = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  buckets_[index].fetch_add(1, std::memory_order_relaxed);
  if (value > 0) sum_.fetch_add(static_cast<std::uint64_t>(value * per_unit_ + 0.5), std::memory_order_relaxed);
}

std::uint64_t Histogram::count() const {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) n += buckets_[i].load(std::memory_order_relaxed);
  return n;
}

void Histogram::render(std::ostream& out, const char* name, const char* help) const {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " histogram\n";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    out << name << "_bucket{le=\"" << bounds_[i] << "\"} " << cumulative << '\n';
  }
  cumulative += buckets_[bounds_.size()].load(std::memory_order_relaxed);
  // The count is the +Inf bucket, so that the samples agree even while others observe.
  out << name << "_bucket{le=\"+Inf\"} " << cumulative << '\n';
  out << name << "_sum " << static_cast<double>(sum_.load(std::memory_order_relaxed)) * resolution_ << '\n';
  out << name << "_count " << cumulative << '\n';
}

}  // namespace switchboard::server
