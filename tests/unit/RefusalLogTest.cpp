#include "admission/RefusalLog.h"

#include <gtest/gtest.h>

#include "switchboard/server/Log.h"

using switchboard::server::RefusalLog;
using Clock = switchboard::server::TokenBucket::Clock;
namespace slog = switchboard::server::log;

TEST(RefusalLog, WritesABurstThenAtTheRateAndSaysHowManyWereLeftOut) {
  auto t0 = Clock::now();
  RefusalLog refusals(1, 2, t0);
  slog::set_level("info");
  testing::internal::CaptureStderr();
  for (int i = 0; i < 5; ++i) refusals.refused("WebSocket handshake", "10.0.0.1", "https://evil.com", 403, "origin_not_allowed", t0);
  refusals.refused("stream", "10.0.0.2", "", 401, "expired", t0 + std::chrono::seconds(1));
  std::string out = testing::internal::GetCapturedStderr();
  slog::set_level("info");
  EXPECT_EQ(refusals.left_out(), 3u);
  std::size_t lines = 0;
  for (char c : out) lines += c == '\n';
  EXPECT_EQ(lines, 3u) << out;
  EXPECT_NE(out.find("refused WebSocket handshake from 10.0.0.1 (Origin https://evil.com): 403 origin_not_allowed\n"),
            std::string::npos);
  EXPECT_NE(out.find("refused stream from 10.0.0.2: 401 expired (3 more refusals left out of the log before this one)\n"),
            std::string::npos) << out;
}
