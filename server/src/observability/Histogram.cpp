#include "observability/Histogram.h"

#include <stdexcept>

#include <algorithm>

namespace switchboard::server {

Histogram::Histogram(std::vector<double> bounds, double resolution)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<std::uint64_t>[bounds_.size() + 1]), resolution_(resolution),
      per_unit_(1 / resolution) {
  if (bounds_.size() + 1 > kMaxBuckets) throw std::invalid_argument("Histogram: too many buckets");
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

std::size_t Histogram::bucket_of(double value) const {
  return static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
}

std::uint64_t Histogram::units_of(double value) const {
  return value > 0 ? static_cast<std::uint64_t>(value * per_unit_ + 0.5) : 0;
}

void Histogram::observe(double value) {
  buckets_[bucket_of(value)].fetch_add(1, std::memory_order_relaxed);
  if (auto units = units_of(value)) sum_.fetch_add(units, std::memory_order_relaxed);
}

void Histogram::Batch::observe(double value) {
  // A batch's observations are mostly alike (the frames of one write): the previous one's
  // bucket is tried before the search.
  const auto& bounds = histogram_.bounds_;
  if ((last_ > 0 && !(bounds[last_ - 1] < value)) || (last_ < bounds.size() && !(value <= bounds[last_])))
    last_ = histogram_.bucket_of(value);
  ++counts_[last_];
  sum_ += histogram_.units_of(value);
}

Histogram::Batch::~Batch() {
  for (std::size_t i = 0; i <= histogram_.bounds_.size(); ++i)
    if (counts_[i]) histogram_.buckets_[i].fetch_add(counts_[i], std::memory_order_relaxed);
  if (sum_) histogram_.sum_.fetch_add(sum_, std::memory_order_relaxed);
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
