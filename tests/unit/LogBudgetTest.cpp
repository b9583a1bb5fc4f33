#include "observability/LogBudget.h"

#include <gtest/gtest.h>

using switchboard::server::LogBudget;
using Clock = switchboard::server::TokenBucket::Clock;

TEST(LogBudget, GivesABurstThenTheRateAndCountsWhatWasLeftOut) {
  auto t0 = Clock::now();
  LogBudget budget(1, 2, t0);
  EXPECT_EQ(budget.take(t0), 0u);
  EXPECT_EQ(budget.take(t0), 0u);
  EXPECT_EQ(budget.take(t0), std::nullopt);
  EXPECT_EQ(budget.take(t0), std::nullopt);
  // A second later, one more line, which says the two left out.
  auto next = budget.take(t0 + std::chrono::seconds(1));
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, 2u);
  EXPECT_EQ(LogBudget::line_suffix(*next, "proxy failures"), " (2 more proxy failures left out of the log before this one)");
  EXPECT_EQ(LogBudget::line_suffix(0, "proxy failures"), "");
  EXPECT_EQ(budget.left_out(), 2u);
}
