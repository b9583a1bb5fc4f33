#include "observability/Histogram.h"

#include <gtest/gtest.h>

#include <sstream>

using switchboard::server::Histogram;

namespace {

std::string render(const Histogram& h) {
  std::ostringstream out;
  h.render(out, "x", "help");
  return out.str();
}

}  // namespace

TEST(Histogram, BucketsAreCumulativeAndTheSumKeepsItsResolution) {
  Histogram h({0.001, 0.01}, 1e-9);
  h.observe(0.0005);
  h.observe(0.001);  // on a bound: counted in that bucket (le)
  h.observe(0.5);
  std::string text = render(h);
  EXPECT_NE(text.find("x_bucket{le=\"0.001\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_bucket{le=\"0.01\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_bucket{le=\"+Inf\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_sum 0.5015\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_count 3\n"), std::string::npos) << text;
  EXPECT_EQ(h.count(), 3u);
}

TEST(Histogram, ABatchAddsWhatItObservedWhenItEnds) {
  Histogram one({256, 1024}, 1), batched({256, 1024}, 1);
  {
    Histogram::Batch batch(batched);
    // Up and down across the buckets, on and just past their bounds: a batch tries the
    // previous observation's bucket first and must count each where observe() would.
    for (double v : {0.0, 100.0, 256.0, 300.0, 5000.0, 5000.0, 256.5, 1024.0, 1024.5, 0.0, 256.0, 100.0}) {
      one.observe(v);
      batch.observe(v);
    }
    EXPECT_EQ(batched.count(), 0u);  // nothing until the batch ends
  }
  EXPECT_EQ(render(batched), render(one));
  EXPECT_EQ(batched.count(), 12u);
}

TEST(Histogram, TooManyBucketsAreRefused) {
  EXPECT_THROW(Histogram(std::vector<double>(Histogram::kMaxBuckets, 1.0), 1), std::invalid_argument);
}
