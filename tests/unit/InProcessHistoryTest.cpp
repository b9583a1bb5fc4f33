// The embedded history: numbering, trimming by size and age, reads after a position, and the
// per-prefix policy.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "switchboard/cluster/HistoryPolicy.h"
#include "switchboard/cluster/InProcessHistory.h"

using namespace switchboard;
using cluster::HistoryLimits;
using cluster::HistoryPolicy;
using cluster::InProcessHistory;

namespace {

std::uint64_t append(InProcessHistory& h, const std::string& room, const std::string& text) {
  return h.append(room, protocol::make_payload(R"({"type":"message","room":")" + room + R"(","data":")" + text + "\"}"),
                  [](const protocol::Payload&, std::uint64_t, std::string_view) {});
}

std::vector<std::uint64_t> offsets(const cluster::Broker::History& h) {
  std::vector<std::uint64_t> out;
  for (const auto& e : h.messages) out.push_back(e.offset);
  return out;
}

}  // namespace

TEST(InProcessHistory, NumbersEachRoomFromOneAndDeliversTheNumberedPush) {
  InProcessHistory h;
  std::string delivered;
  std::uint64_t delivered_offset = 0;
  std::string epoch;
  auto offset = h.append("r", protocol::make_payload(R"({"type":"message","data":1})"),
                         [&](const protocol::Payload& p, std::uint64_t n, std::string_view e) {
                           delivered = *p;
                           delivered_offset = n;
                           epoch = e;
                         });
  EXPECT_EQ(offset, 1u);
  EXPECT_EQ(delivered_offset, 1u);
  EXPECT_EQ(delivered, R"({"type":"message","data":1,"offset":1})");
  EXPECT_EQ(append(h, "r", "b"), 2u);
  EXPECT_EQ(append(h, "other", "x"), 1u);
  auto read = h.read("r", std::nullopt, 10);
  EXPECT_TRUE(read.available);
  EXPECT_EQ(read.position.offset, 2u);
  EXPECT_EQ(read.position.epoch, epoch);
  EXPECT_EQ(offsets(read), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_NE(h.read("other", std::nullopt, 0).position.epoch, epoch);  // each room its own
}

TEST(InProcessHistory, ReadsAfterAPositionAndSaysWhetherTheyAreComplete) {
  InProcessHistory h(HistoryPolicy({5, std::chrono::seconds(300)}));
  for (int i = 0; i < 8; ++i) append(h, "r", "m");  // keeps 4..8
  auto after5 = h.read("r", 5, 100);
  EXPECT_TRUE(after5.complete);
  EXPECT_EQ(offsets(after5), (std::vector<std::uint64_t>{6, 7, 8}));
  auto after3 = h.read("r", 3, 100);
  EXPECT_TRUE(after3.complete);  // 4 is the oldest kept: nothing missing
  auto after2 = h.read("r", 2, 100);
  EXPECT_FALSE(after2.complete);  // 3 is gone
  auto limited = h.read("r", 5, 2);
  EXPECT_FALSE(limited.complete);  // more than the limit
  EXPECT_EQ(offsets(limited), (std::vector<std::uint64_t>{6, 7}));
  auto current = h.read("r", 8, 100);
  EXPECT_TRUE(current.complete);
  EXPECT_TRUE(current.messages.empty());
  EXPECT_FALSE(h.read("r", 9, 100).complete);  // ahead of the room: not from this epoch
  EXPECT_EQ(offsets(h.read("r", std::nullopt, 2)), (std::vector<std::uint64_t>{7, 8}));
}

TEST(InProcessHistory, SizeZeroNumbersButKeepsNothing) {
  InProcessHistory h(HistoryPolicy({100, std::chrono::seconds(300)}, {{"typing:", {0, std::chrono::seconds(300)}}}));
  append(h, "typing:r", "a");
  append(h, "typing:r", "b");
  auto read = h.read("typing:r", 0, 100);
  EXPECT_EQ(read.position.offset, 2u);
  EXPECT_TRUE(read.messages.empty());
  EXPECT_FALSE(read.complete);
  EXPECT_TRUE(h.read("typing:r", 2, 100).complete);
}

TEST(InProcessHistory, MessagesExpireAndUnusedRoomsAreForgotten) {
  auto now = InProcessHistory::Clock::now();  // the history's time: moved by the test alone
  InProcessHistory h(HistoryPolicy({100, std::chrono::seconds(1)}), 0, [&now] { return now; });
  append(h, "r", "a");
  auto epoch = h.read("r", std::nullopt, 0).position.epoch;
  h.retain("kept", true);
  now += std::chrono::milliseconds(999);
  EXPECT_EQ(offsets(h.read("r", 0, 100)), (std::vector<std::uint64_t>{1}));  // not yet 1 s old
  now += std::chrono::milliseconds(1);
  auto read = h.read("r", 0, 100);
  EXPECT_TRUE(read.messages.empty());
  EXPECT_FALSE(read.complete);
  EXPECT_EQ(read.position.epoch, epoch);  // read just now: still in use
  h.sweep();
  EXPECT_EQ(h.room_count(), 2u);
  now += std::chrono::milliseconds(999);
  h.sweep();
  EXPECT_EQ(h.room_count(), 2u);  // read 999 ms ago
  now += std::chrono::milliseconds(1);
  h.sweep();
  EXPECT_EQ(h.room_count(), 1u);  // "r" is forgotten, "kept" has a subscriber
  EXPECT_NE(h.read("r", std::nullopt, 0).position.epoch, epoch);
  h.retain("kept", false);
  now += std::chrono::seconds(1);
  h.sweep();
  EXPECT_EQ(h.room_count(), 0u);
}

TEST(HistoryPolicy, LongestPrefixWins) {
  auto policy = HistoryPolicy::parse({100, std::chrono::seconds(300)},
                                     R"({"chat:":{"size":1000},"chat:vip:":{"size":5000,"ttl":60},"typing:":{"size":0}})");
  EXPECT_EQ(policy.limits_for("chat:lobby").size, 1000u);
  EXPECT_EQ(policy.limits_for("chat:lobby").ttl, std::chrono::seconds(300));
  EXPECT_EQ(policy.limits_for("chat:vip:x").size, 5000u);
  EXPECT_EQ(policy.limits_for("chat:vip:x").ttl, std::chrono::seconds(60));
  EXPECT_EQ(policy.limits_for("typing:r").size, 0u);
  EXPECT_EQ(policy.limits_for("news").size, 100u);
  EXPECT_EQ(policy.longest_ttl(), std::chrono::seconds(300));
}

TEST(HistoryPolicy, RejectsMalformedRules) {
  HistoryLimits d;
  for (const char* bad : {"[]", "nonsense", R"({"a":5})", R"({"a":{"size":-1}})", R"({"a":{"size":"5"}})",
                          R"({"a":{"bogus":1}})", R"({"a":{"ttl":0}})", R"({"a":{"size":100001}})"})
    EXPECT_THROW(HistoryPolicy::parse(d, bad), std::invalid_argument) << bad;
  EXPECT_NO_THROW(HistoryPolicy::parse(d, ""));
}

TEST(InProcessHistory, TheByteBudgetEvictsTheNodesOldestMessagesFirst) {
  const std::string text(1000, 'x');
  // Room a gets 3 messages, then b 3, then a 1 more; the budget holds about 5 of them.
  std::size_t one = 0;
  {
    InProcessHistory probe;
    append(probe, "a", text);
    one = probe.bytes();
  }
  InProcessHistory h(HistoryPolicy({100, std::chrono::seconds(300)}), 5 * one + one / 2);
  for (int i = 0; i < 3; ++i) append(h, "a", text);
  for (int i = 0; i < 3; ++i) append(h, "b", text);
  EXPECT_EQ(h.evictions(), 1u);  // a's first
  append(h, "a", text);
  EXPECT_EQ(h.evictions(), 2u);  // a's second
  EXPECT_LE(h.bytes(), 5 * one + one / 2);
  EXPECT_EQ(offsets(h.read("a", std::nullopt, 100)), (std::vector<std::uint64_t>{3, 4}));
  EXPECT_EQ(offsets(h.read("b", std::nullopt, 100)), (std::vector<std::uint64_t>{1, 2, 3}));
  // Reading from before what was evicted is incomplete (a recovery says recovered:false)...
  EXPECT_FALSE(h.read("a", 0, 100).complete);
  EXPECT_FALSE(h.read("a", 1, 100).complete);
  // ... from what is still kept, complete.
  auto from_kept = h.read("a", 2, 100);
  EXPECT_TRUE(from_kept.complete);
  EXPECT_EQ(offsets(from_kept), (std::vector<std::uint64_t>{3, 4}));
  EXPECT_TRUE(h.read("b", 0, 100).complete);
}

TEST(InProcessHistory, MessagesTrimmedByTheirRoomLeaveTheBudget) {
  const std::string text(100, 'x');
  InProcessHistory h(HistoryPolicy({2, std::chrono::seconds(300)}), 1024 * 1024);
  for (int i = 0; i < 5000; ++i) append(h, "r", text);
  EXPECT_EQ(h.evictions(), 0u);
  EXPECT_EQ(offsets(h.read("r", std::nullopt, 100)), (std::vector<std::uint64_t>{4999, 5000}));
  auto kept = h.bytes();
  EXPECT_GT(kept, 0u);
  EXPECT_LT(kept, 2 * 200u);
}

// sweep() runs on an I/O thread while publishes, reads and subscriptions run on others. Swept as
// of an hour later, a room that keeps no message may be forgotten at any moment, but never under a publish:
// the room's deliveries never overlap, and once a room's epoch has changed its old one never
// comes back (a publish numbered in a forgotten log would deliver in an epoch no one can read).
TEST(InProcessHistory, APublishIsNeverNumberedInALogBeingForgotten) {
  InProcessHistory h(HistoryPolicy({0, std::chrono::seconds(1)}));
  std::atomic<bool> stop{false};
  std::atomic<int> delivering{0};
  std::atomic<int> overlaps{0};
  std::mutex seen_mutex;
  std::vector<std::pair<std::string, std::uint64_t>> seen;  // (epoch, offset) in delivery order
  std::thread sweeper([&] {
    while (!stop) h.sweep(InProcessHistory::Clock::now() + std::chrono::hours(1));
  });
  auto publisher = [&] {
    for (int i = 0; i < 20000; ++i) {
      h.append("r", protocol::make_payload(R"({"type":"message","room":"r","data":1})"),
               [&](const protocol::Payload&, std::uint64_t offset, std::string_view epoch) {
                 if (delivering.fetch_add(1) != 0) ++overlaps;
                 {
                   std::lock_guard lock(seen_mutex);
                   seen.emplace_back(std::string(epoch), offset);
                 }
                 delivering.fetch_sub(1);
               });
      if (i % 64 == 0) h.read("r", std::nullopt, 10);
    }
  };
  std::thread a(publisher), b(publisher);
  a.join();
  b.join();
  stop = true;
  sweeper.join();
  EXPECT_EQ(overlaps.load(), 0);
  ASSERT_EQ(seen.size(), 40000u);
  std::set<std::string> left;  // epochs the room has moved on from
  for (std::size_t i = 1; i < seen.size(); ++i) {
    const auto& [epoch, offset] = seen[i];
    if (epoch == seen[i - 1].first) {
      EXPECT_EQ(offset, seen[i - 1].second + 1) << "at delivery " << i;
    } else {
      left.insert(seen[i - 1].first);
      EXPECT_EQ(left.count(epoch), 0u) << "epoch came back at delivery " << i;
      EXPECT_EQ(offset, 1u) << "a new epoch starts at 1, at delivery " << i;
    }
  }
}

// A subscription marks its room's log as kept; done while sweep() forgets that log, it must land
// on the room's log that stays, never on the one leaving: the epoch read after it holds.
TEST(InProcessHistory, ASubscriptionKeepsTheRoomsLogEvenWhileItIsBeingForgotten) {
  InProcessHistory h(HistoryPolicy({0, std::chrono::seconds(1)}));
  std::atomic<bool> stop{false};
  std::thread sweeper([&] {
    while (!stop) h.sweep(InProcessHistory::Clock::now() + std::chrono::hours(1));
  });
  int changed = 0;
  for (int i = 0; i < 5000; ++i) {
    h.retain("s", true);
    auto epoch = h.read("s", std::nullopt, 0).position.epoch;
    if (h.read("s", std::nullopt, 0).position.epoch != epoch) ++changed;
    h.retain("s", false);
  }
  stop = true;
  sweeper.join();
  EXPECT_EQ(changed, 0);
}
