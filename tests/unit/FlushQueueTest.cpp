// FlushQueue: when the cork of an I/O thread's connections ends. Driven on the test's thread
// with poll(), so that each check sees what the queue does turn by turn, on the test's own clocks:
// the steady time (the cork's timer's too) moves only when the test moves it, and a round of
// writes takes the CPU time its connections say.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <vector>

#include "dispatch/Connection.h"
#include "transport/FlushQueue.h"

using namespace switchboard;
using server::FlushQueue;
using namespace std::chrono_literals;

namespace {

// The test's clocks, which FlushQueue::Clock reads while a FlushQueueTest runs.
FlushQueue::Clock::time_point fake_now{std::chrono::hours(1)};
std::chrono::microseconds fake_cpu{0};

// A connection that counts the frames it was given and, on flush, records how many it wrote
// in that round; its flush may take CPU time, as writes to many sockets do.
class CountingConnection final : public server::Connection {
 public:
  CountingConnection() : Connection(1, auth::Identity{}, server::TokenBucket(0, 1), server::TokenBucket(0, 1)) {}
  using Connection::deliver;
  void deliver(protocol::Payload, Clock::time_point) override {}
  void reply(std::string) override {}
  void shutdown(std::uint16_t, std::string) override {}
  void abort() override {}
  void watch_token_expiry() override {}
  void post(std::function<void()> fn) override { fn(); }
  void flush() override {
    rounds.push_back(pending);
    pending = 0;
    fake_cpu += cost;
  }
  std::size_t pending = 0;
  std::vector<std::size_t> rounds;  // frames written per flush
  std::chrono::microseconds cost{0};
};

struct FlushQueueTest : ::testing::Test {
  FlushQueueTest() {
    fake_now = FlushQueue::Clock::time_point(std::chrono::hours(1));
    fake_cpu = 0us;
    FlushQueue::Clock::set([] { return fake_now; }, [] { return fake_cpu; });
  }
  ~FlushQueueTest() override { FlushQueue::Clock::reset(); }

  boost::asio::io_context ioc{1};
  FlushQueue queue{ioc};

  // Frames for `conn`, as a connection's enqueue reports them.
  void queue_frames(const std::shared_ptr<CountingConnection>& conn, std::size_t n) {
    bool first = conn->pending == 0;
    conn->pending += n;
    if (first) queue.request(conn);
    for (std::size_t i = 0; i < n; ++i) queue.note_frame();
  }
  // One turn: the next handler that is ready, if any. (An io_context that ran out of work stops:
  // restart() lets it run again.)
  void turn() {
    ioc.restart();
    ioc.poll_one();
  }
  // Runs what is ready, turn after turn, without waiting; at most `turns` polls.
  void poll_turns(int turns) {
    for (int i = 0; i < turns; ++i) {
      ioc.restart();
      ioc.poll();
    }
  }
  // Frames for `conn`, then as many turns as a cork takes to be quiet: what `conn` has written
  // by then.
  std::vector<std::size_t> written_when_quiet(const std::shared_ptr<CountingConnection>& conn, std::size_t frames) {
    queue_frames(conn, frames);
    for (unsigned i = 0; i <= FlushQueue::kQuietTurns; ++i) turn();
    return conn->rounds;
  }
  // Waits for the cork's timer, due by the test's time. (It is the reactor's timer that has the
  // queue look at the test's time again: it waits at most what remained of that time when set.)
  void wait_for_timer() {
    ioc.restart();
    ioc.run_for(1s);
  }
  // A round of writes of `frames` frames for each of `writers` connections, taking `cpu` of CPU
  // time: what the cork that follows measures itself against.
  std::vector<std::shared_ptr<CountingConnection>> round(int writers, std::size_t frames, std::chrono::microseconds cpu) {
    std::vector<std::shared_ptr<CountingConnection>> conns;
    for (int i = 0; i < writers; ++i) conns.push_back(std::make_shared<CountingConnection>());
    conns[0]->cost = cpu;
    for (auto& c : conns) queue_frames(c, frames);
    poll_turns(8);
    EXPECT_EQ(conns[0]->rounds, std::vector<std::size_t>{frames});
    conns[0]->cost = 0us;
    return conns;
  }
};

}  // namespace

TEST_F(FlushQueueTest, AQuietNodeFlushesWithinAFewTurns) {
  auto conn = std::make_shared<CountingConnection>();
  queue_frames(conn, 1);
  EXPECT_TRUE(conn->rounds.empty());  // corked: nothing is written inline
  turn();  // the frame was queued after the request: the count moved
  for (unsigned i = 0; i < FlushQueue::kQuietTurns; ++i) {
    EXPECT_TRUE(conn->rounds.empty());
    turn();
  }
  EXPECT_EQ(conn->rounds, std::vector<std::size_t>{1});
}

TEST_F(FlushQueueTest, FramesQueuedWhileTheCorkLastsGoInOneRound) {
  auto conn = std::make_shared<CountingConnection>();
  queue_frames(conn, 1);
  for (int i = 0; i < 50; ++i) {
    turn();
    queue_frames(conn, 1);  // the count keeps moving: the cork goes on
    fake_now += 10us;  // 0.5 ms in all: within kMinDelay
  }
  EXPECT_TRUE(conn->rounds.empty());
  poll_turns(8);
  EXPECT_EQ(conn->rounds, std::vector<std::size_t>{51});
}

// Frames that keep coming hold the cork no longer than the deadline: kMinDelay after a quick
// round of writes.
TEST_F(FlushQueueTest, AMovingCorkIsFlushedAtItsDeadline) {
  auto conn = std::make_shared<CountingConnection>();
  queue_frames(conn, 1);
  const auto deadline = fake_now + FlushQueue::kMinDelay;
  std::size_t queued = 1;
  while (fake_now < deadline) {
    turn();
    ASSERT_TRUE(conn->rounds.empty());
    queue_frames(conn, 1);
    ++queued;
    fake_now += 100us;
  }
  turn();  // the turn past the deadline flushes, though the count moved
  EXPECT_EQ(conn->rounds, std::vector<std::size_t>{queued});
}

// Past kMaxTurns turns the cork is flushed, however little time they took.
TEST_F(FlushQueueTest, AMovingCorkIsFlushedAfterTheMostTurns) {
  auto conn = std::make_shared<CountingConnection>();
  queue_frames(conn, 1);
  for (unsigned i = 1; i < FlushQueue::kMaxTurns; ++i) {
    turn();
    queue_frames(conn, 1);
  }
  EXPECT_TRUE(conn->rounds.empty());
  turn();
  EXPECT_EQ(conn->rounds, std::vector<std::size_t>{FlushQueue::kMaxTurns});
}

// The deadline is as long as the last round of writes took, clamped to [kMinDelay, kMaxDelay].
TEST_F(FlushQueueTest, TheDeadlineFollowsTheLastRoundWithinItsBounds) {
  for (auto cpu : {5000us, 50000us}) {
    auto conns = round(1, 1, cpu);
    const auto limit = std::clamp(std::chrono::microseconds(cpu), FlushQueue::kMinDelay, FlushQueue::kMaxDelay);
    fake_now += 1s;  // long after that round: no stream
    queue_frames(conns[0], 1);
    const auto deadline = fake_now + limit;
    while (fake_now < deadline) {
      turn();
      ASSERT_EQ(conns[0]->rounds.size(), 1u) << cpu.count();
      queue_frames(conns[0], 1);
      fake_now += 500us;
    }
    turn();
    EXPECT_EQ(conns[0]->rounds.size(), 2u) << cpu.count();
  }
}

// After a long round of many frames per connection (a stream), a cork with a small part of that
// waits for the rest, asleep, instead of being written as a round of its own.
TEST_F(FlushQueueTest, InAStreamAStragglingPieceWaitsForTheRestOfItsRound) {
  auto conns = round(10, 20, 10ms);  // 200 frames; the cork may last 10 ms
  // 2 frames against the last round's 200: not written after the quiet turns, but waiting.
  EXPECT_EQ(written_when_quiet(conns[1], 2), std::vector<std::size_t>{20});
  queue_frames(conns[1], 100);  // the rest of the round arrives
  fake_now += 9ms;
  poll_turns(8);
  EXPECT_EQ(conns[1]->rounds.size(), 1u);  // asleep until the deadline
  fake_now += 1ms;
  wait_for_timer();  // due now
  EXPECT_EQ(conns[1]->rounds, (std::vector<std::size_t>{20, 102}));
}

// A cork that has half the last round's frames or more is no straggler: it goes when quiet.
TEST_F(FlushQueueTest, InAStreamAHalfRoundGoesWhenQuiet) {
  auto conns = round(10, 20, 10ms);
  EXPECT_EQ(written_when_quiet(conns[1], 100), (std::vector<std::size_t>{20, 100}));
}

// A cork begun more than twice the last round's length after it is no part of a stream.
TEST_F(FlushQueueTest, ACorkLongAfterALongRoundIsNoStream) {
  auto conns = round(10, 20, 1ms);
  fake_now += 2ms;
  EXPECT_EQ(written_when_quiet(conns[1], 2), (std::vector<std::size_t>{20, 2}));
}

// Rounds of one frame per connection (say, many rooms with few subscribers each) are no stream,
// however long they take: a lone frame after one goes out within a few turns.
TEST_F(FlushQueueTest, AfterLongRoundsOfSingleFramesALoneFrameIsNotHeldBack) {
  auto conns = round(10, 1, 5ms);
  EXPECT_EQ(written_when_quiet(conns[1], 1), (std::vector<std::size_t>{1, 1}));
}

// Without a test's clocks, the queue reads the real ones.
TEST(FlushQueueClock, TheRealClocksMove) {
  const auto now = FlushQueue::Clock::now();
  const auto since_epoch = std::chrono::steady_clock::now().time_since_epoch();
  EXPECT_LE(now.time_since_epoch(), since_epoch);
  EXPECT_GE(FlushQueue::Clock::thread_cpu_time(), 0us);
}
