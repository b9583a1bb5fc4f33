// The deny-list of POST /api/disconnect's "until": entries by user, by token id, by both, each
// until its time.
#include <gtest/gtest.h>

#include "admission/DenyList.h"

using switchboard::server::DenyList;
using namespace std::chrono_literals;

TEST(DenyList, RefusesByUserByTokenAndByBothUntilTheTime) {
  DenyList denied;
  auto now = DenyList::Clock::now();
  denied.deny("alice", "", now + 60s);
  denied.deny("", "t-1", now + 120s);
  denied.deny("bob", "t-2", now + 30s);
  EXPECT_EQ(denied.refused_until("alice", "", now), now + 60s);
  EXPECT_EQ(denied.refused_until("alice", "any", now), now + 60s);
  EXPECT_EQ(denied.refused_until("carol", "t-1", now), now + 120s);
  EXPECT_EQ(denied.refused_until("alice", "t-1", now), now + 120s);  // the later of the two
  EXPECT_EQ(denied.refused_until("bob", "t-2", now), now + 30s);
  EXPECT_FALSE(denied.refused_until("bob", "t-3", now));
  EXPECT_FALSE(denied.refused_until("carol", "t-2", now));  // t-2 only with bob
  EXPECT_FALSE(denied.refused_until("carol", "", now));
  // Once the time passed, admitted.
  EXPECT_FALSE(denied.refused_until("alice", "", now + 60s));
  EXPECT_FALSE(denied.refused_until("bob", "t-2", now + 31s));
  EXPECT_TRUE(denied.refused_until("carol", "t-1", now + 119s));
}

TEST(DenyList, ALaterTimeReplacesAnEarlierOneAndPastEntriesAreDropped) {
  DenyList denied;
  auto now = DenyList::Clock::now();
  denied.deny("alice", "", now + 60s);
  denied.deny("alice", "", now + 10s);  // not shorter
  EXPECT_EQ(denied.refused_until("alice", "", now), now + 60s);
  denied.deny("alice", "", now + 90s);
  EXPECT_EQ(denied.refused_until("alice", "", now), now + 90s);
  denied.deny("bob", "", now - 1s);  // already past: nothing
  EXPECT_FALSE(denied.refused_until("bob", "", now));
  EXPECT_EQ(denied.size(), 1u);
}
