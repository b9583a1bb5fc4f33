#include <gtest/gtest.h>

#include "admission/HandshakeLimiter.h"

using switchboard::server::HandshakeLimiter;
using Clock = switchboard::server::TokenBucket::Clock;

TEST(HandshakeLimiter, EachAddressHasItsOwnBucket) {
  HandshakeLimiter limiter(1, 2);
  auto t0 = Clock::now();
  EXPECT_TRUE(limiter.allow("a", t0));
  EXPECT_TRUE(limiter.allow("a", t0));
  EXPECT_FALSE(limiter.allow("a", t0));
  EXPECT_TRUE(limiter.allow("b", t0));
  EXPECT_TRUE(limiter.allow("a", t0 + std::chrono::seconds(1)));  // refilled one
  EXPECT_FALSE(limiter.allow("a", t0 + std::chrono::seconds(1)));
}

TEST(HandshakeLimiter, RateZeroIsNoLimitAndTracksNothing) {
  HandshakeLimiter limiter(0, 1);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(limiter.allow("a"));
  EXPECT_EQ(limiter.tracked(), 0u);
}

TEST(HandshakeLimiter, IdleAddressesAreForgottenWhenTheTableIsFull) {
  HandshakeLimiter limiter(1, 1);
  auto t0 = Clock::now();
  for (int i = 0; i < 10000; ++i) limiter.allow("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256), t0);
  EXPECT_EQ(limiter.tracked(), 10000u);
  EXPECT_TRUE(limiter.allow("new", t0 + std::chrono::minutes(2)));
  EXPECT_EQ(limiter.tracked(), 1u);
}
