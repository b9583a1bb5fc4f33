// FlushQueue: when the cork of an I/O thread's connections ends. Driven on the test's thread
// with poll(), so that each check sees what the queue does turn by turn.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <ctime>
#include <memory>
#include <vector>

#include "dispatch/Connection.h"
#include "transport/FlushQueue.h"

using namespace switchboard;
using server::FlushQueue;
using namespace std::chrono_literals;

namespace {

std::chrono::nanoseconds thread_cpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

// A connection that counts the frames it was given and, on flush, records how many it wrote
// in that round; it may spend CPU time in flush, as writes to many sockets do.
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
    for (auto until = thread_cpu() + cost; thread_cpu() < until;) {
    }
  }
  std::size_t pending = 0;
  std::vector<std::size_t> rounds;  // frames written per flush
  std::chrono::nanoseconds cost{0};
};

struct FlushQueueTest : ::testing::Test {
  boost::asio::io_context ioc{1};
  FlushQueue queue{ioc};

  // Frames for `conn`, as a connection's enqueue reports them.
  void queue_frames(const std::shared_ptr<CountingConnection>& conn, std::size_t n) {
    bool first = conn->pending == 0;
    conn->pending += n;
    if (first) queue.request(conn);
    for (std::size_t i = 0; i < n; ++i) queue.note_frame();
  }
  // Runs what is ready, turn after turn, without waiting; at most `turns` of them. (An
  // io_context that ran out of work stops: restart() lets it run again.)
  void poll_turns(int turns) {
    for (int i = 0; i < turns; ++i) {
      ioc.restart();
      ioc.poll();
    }
  }
};

}  // namespace

TEST_F(FlushQueueTest, AQuietNodeFlushesWithinAFewTurns) {
  auto conn = std::make_shared<CountingConnection>();
  queue_frames(conn, 1);
  EXPECT_TRUE(conn->rounds.empty());  // corked: nothing is written inline
  poll_turns(8);
  EXPECT_EQ(conn->rounds, std::vector<std::size_t>{1});
}

TEST_F(FlushQueueTest, FramesQueuedWhileTheCorkLastsGoInOneRound) {
  auto conn = std::make_shared<CountingConnection>();
  const auto started = std::chrono::steady_clock::now();
  queue_frames(conn, 1);
  for (int i = 0; i < 50; ++i) {
    ioc.poll_one();
    queue_frames(conn, 1);  // the count keeps moving: the cork goes on
  }
  // The cork lasts kMinDelay at most: a test thread held off the CPU that long cannot tell.
  if (std::chrono::steady_clock::now() - started >= FlushQueue::kMinDelay && conn->rounds.size() > 1)
    GTEST_SKIP() << "the test thread was held off the CPU too long to judge";
  poll_turns(8);
  EXPECT_EQ(conn->rounds, std::vector<std::size_t>{51});
}

// After a long round of many frames per connection (a stream), a cork with a small part of that
// waits for the rest, asleep, instead of being written as a round of its own.
TEST_F(FlushQueueTest, InAStreamAStragglingPieceWaitsForTheRestOfItsRound) {
  std::vector<std::shared_ptr<CountingConnection>> conns;
  for (int i = 0; i < 10; ++i) conns.push_back(std::make_shared<CountingConnection>());
  conns[0]->cost = 10ms;  // the round takes 10 ms of CPU: the cork may last as long
  for (auto& c : conns) queue_frames(c, 20);
  poll_turns(8);
  ASSERT_EQ(conns[0]->rounds, std::vector<std::size_t>{20});
  const auto round_end = std::chrono::steady_clock::now();
  conns[0]->cost = 0ms;

  queue_frames(conns[1], 2);  // 2 frames against the last round's 200
  poll_turns(8);
  const bool waited = conns[1]->rounds.size() == 1;  // not written after the quiet turns
  queue_frames(conns[1], 100);  // the rest of the round arrives
  // The cork lasts as long as the last round (10 ms): a test thread held off the CPU that long
  // since cannot tell.
  if (std::chrono::steady_clock::now() - round_end >= 10ms)
    GTEST_SKIP() << "the test thread was held off the CPU too long to judge";
  ioc.restart();
  ioc.run_for(1s);
  EXPECT_TRUE(waited);
  EXPECT_EQ(conns[1]->rounds, (std::vector<std::size_t>{20, 102}));
}

// Rounds of one frame per connection (say, many rooms with few subscribers each) are no stream,
// however long they take: a lone frame after one goes out within a few turns.
TEST_F(FlushQueueTest, AfterLongRoundsOfSingleFramesALoneFrameIsNotHeldBack) {
  std::vector<std::shared_ptr<CountingConnection>> conns;
  for (int i = 0; i < 10; ++i) conns.push_back(std::make_shared<CountingConnection>());
  conns[0]->cost = 5ms;
  for (auto& c : conns) queue_frames(c, 1);
  poll_turns(8);
  ASSERT_EQ(conns[0]->rounds, std::vector<std::size_t>{1});
  conns[0]->cost = 0ms;
  queue_frames(conns[1], 1);
  poll_turns(8);
  EXPECT_EQ(conns[1]->rounds, (std::vector<std::size_t>{1, 1}));
}
