#include <gtest/gtest.h>

#include "admission/KeyedRateLimiter.h"

using switchboard::server::KeyedRateLimiter;
using Clock = switchboard::server::TokenBucket::Clock;

TEST(KeyedRateLimiter, EachAddressHasItsOwnBucket) {
  KeyedRateLimiter limiter(1, 2);
  auto t0 = Clock::now();
  EXPECT_TRUE(limiter.allow("a", t0));
  EXPECT_TRUE(limiter.allow("a", t0));
  EXPECT_FALSE(limiter.allow("a", t0));
  EXPECT_TRUE(limiter.allow("b", t0));
  EXPECT_TRUE(limiter.allow("a", t0 + std::chrono::seconds(1)));  // refilled one
  EXPECT_FALSE(limiter.allow("a", t0 + std::chrono::seconds(1)));
}

TEST(KeyedRateLimiter, RateZeroIsNoLimitAndTracksNothing) {
  KeyedRateLimiter limiter(0, 1);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(limiter.allow("a"));
  EXPECT_EQ(limiter.tracked(), 0u);
}

TEST(KeyedRateLimiter, IdleAddressesAreForgottenWhenTheTableIsFull) {
  KeyedRateLimiter limiter(1, 1);
  auto t0 = Clock::now();
  for (int i = 0; i < 10000; ++i) limiter.allow("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256), t0);
  EXPECT_EQ(limiter.tracked(), 10000u);
  EXPECT_TRUE(limiter.allow("new", t0 + std::chrono::minutes(2)));
  EXPECT_EQ(limiter.tracked(), 1u);
}

TEST(KeyedRateLimiter, AFullTableOfBusyKeysIsScannedAtMostOnceASecond) {
  KeyedRateLimiter limiter(1, 1);
  auto t0 = Clock::now();
  for (int i = 0; i < 10000; ++i) limiter.allow("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256), t0);
  EXPECT_TRUE(limiter.allow("a", t0 + std::chrono::seconds(61)));  // a pass: every other key is idle
  EXPECT_EQ(limiter.tracked(), 1u);
  for (int i = 0; i < 10000; ++i) limiter.allow("b" + std::to_string(i), t0 + std::chrono::seconds(61));
  EXPECT_EQ(limiter.tracked(), 10001u);
  // Within the second after a pass, no other; a pass a second later finds them all busy.
  limiter.allow("c", t0 + std::chrono::seconds(61) + std::chrono::milliseconds(999));
  EXPECT_EQ(limiter.tracked(), 10002u);
  EXPECT_TRUE(limiter.allow("d", t0 + std::chrono::seconds(62) + std::chrono::milliseconds(500)));
  EXPECT_EQ(limiter.tracked(), 10003u);
  EXPECT_TRUE(limiter.allow("e", t0 + std::chrono::seconds(200)));  // a pass: all idle now
  EXPECT_EQ(limiter.tracked(), 1u);
}
