#include "transport/Inbox.h"
#include "transport/FlushQueue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <string>
#include <thread>
#include <vector>

using switchboard::server::Inbox;
namespace net = boost::asio;

namespace {

// Records what it receives, and on which thread.
struct Recorder final : Inbox::Receiver {
  std::vector<std::string> got;
  std::thread::id expected_thread;
  std::atomic<int> wrong_thread{0};

  void receive(switchboard::protocol::Payload frame, Inbox::Clock::time_point) override {
    if (std::this_thread::get_id() != expected_thread) ++wrong_thread;
    got.push_back(*frame);
  }
  void run(std::function<void()>& task) override {
    if (std::this_thread::get_id() != expected_thread) ++wrong_thread;
    task();
  }
};

// Hands `to` the delivery `text` through `inbox`.
void deliver(Inbox& inbox, const std::shared_ptr<Recorder>& to, const std::string& text) {
  inbox.deliver(to, switchboard::protocol::make_payload(text), Inbox::Clock::now());
}

}  // namespace

TEST(Inbox, DeliveriesAndTasksFromOtherThreadsRunOnItsThreadInTheOrderEachHandedThem) {
  net::io_context ioc;
  auto work = net::make_work_guard(ioc);
  std::thread loop([&] { ioc.run(); });
  auto recorder = std::make_shared<Recorder>();
  recorder->expected_thread = loop.get_id();
  Inbox& inbox = net::use_service<Inbox>(ioc);

  constexpr int kEach = 2000;
  std::vector<std::thread> producers;
  for (int p = 0; p < 2; ++p)
    producers.emplace_back([&, p] {
      for (int i = 0; i < kEach; ++i) {
        std::string text = std::to_string(p) + ":" + std::to_string(i);
        if (i % 3 == 0)
          inbox.post(recorder, [recorder, text] { recorder->got.push_back(text); });
        else
          inbox.deliver(recorder, switchboard::protocol::make_payload(text), Inbox::Clock::now());
      }
    });
  for (auto& t : producers) t.join();
  // A last task, handed over after everything else: once it ran, everything has.
  std::promise<void> done;
  auto finished = done.get_future();
  inbox.post(recorder, [&] { done.set_value(); });
  finished.wait();
  work.reset();
  loop.join();

  EXPECT_EQ(recorder->wrong_thread.load(), 0);
  ASSERT_EQ(recorder->got.size(), 2u * kEach);
  int next[2] = {0, 0};
  for (const auto& text : recorder->got) {
    int p = text[0] - '0';
    ASSERT_EQ(text, std::to_string(p) + ":" + std::to_string(next[p])) << "out of order";
    ++next[p];
  }
}

TEST(Inbox, WhatWaitsWhenTheEventLoopEndsIsDropped) {
  std::weak_ptr<Recorder> weak;
  {
    net::io_context ioc;  // never run
    auto recorder = std::make_shared<Recorder>();
    weak = recorder;
    net::use_service<Inbox>(ioc).deliver(recorder, switchboard::protocol::make_payload("x"), Inbox::Clock::now());
    net::use_service<Inbox>(ioc).post(recorder, [] {});
    recorder.reset();
    EXPECT_FALSE(weak.expired());  // held by the inbox
  }
  EXPECT_TRUE(weak.expired());
}

TEST(Inbox, ABatchHandsEachInboxItsShareInOneDrainWhenItEndsInTheOrderHandedOver) {
  // Two inboxes, their event loops not running yet: what a batch hands over is held by the batch
  // until it ends, then each inbox has one drain posted for all of its share.
  net::io_context first_ioc, second_ioc;
  Inbox& first = net::use_service<Inbox>(first_ioc);
  Inbox& second = net::use_service<Inbox>(second_ioc);
  auto a = std::make_shared<Recorder>();
  auto b = std::make_shared<Recorder>();
  a->expected_thread = b->expected_thread = std::this_thread::get_id();
  {
    Inbox::Batch batch;
    deliver(first, a, "a1");
    deliver(second, b, "b1");
    {
      Inbox::Batch inner;  // does nothing: the outer batch hands everything over
      first.post(a, [a] { a->got.push_back("a2"); });
    }
    deliver(first, a, "a3");
    // Nothing handed over yet: the loops have nothing to run.
    EXPECT_EQ(first_ioc.poll(), 0u);
    EXPECT_EQ(second_ioc.poll(), 0u);
    first_ioc.restart();
    second_ioc.restart();
  }
  // One drain each, with everything in order.
  EXPECT_EQ(first_ioc.poll(), 1u);
  EXPECT_EQ(second_ioc.poll(), 1u);
  EXPECT_EQ(a->got, (std::vector<std::string>{"a1", "a2", "a3"}));
  EXPECT_EQ(b->got, (std::vector<std::string>{"b1"}));
  // Without a batch, each hand-off goes at once.
  deliver(first, a, "a4");
  first_ioc.restart();
  EXPECT_EQ(first_ioc.poll(), 1u);
  EXPECT_EQ(a->got.back(), "a4");
}

TEST(Inbox, AnIoThreadWakesTheOtherThreadsItHandedEntriesToWhenItsCorkFlushes) {
  // The test's thread plays two I/O threads in turn: "this" one (its event loop and FlushQueue)
  // and the "other" one (an inbox whose loop is polled here between the turns of this one).
  // The cork's clock stands still, so that it flushes after its quiet turns, never earlier
  // because the test was preempted past its deadline.
  using switchboard::server::FlushQueue;
  FlushQueue::Clock::set([] { return FlushQueue::Clock::time_point(std::chrono::hours(1)); },
                         [] { return std::chrono::microseconds(0); });
  struct ClockReset {
    ~ClockReset() { FlushQueue::Clock::reset(); }
  } clock_reset;
  net::io_context this_ioc, other_ioc;
  FlushQueue queue(this_ioc);
  Inbox& mine = net::use_service<Inbox>(this_ioc);
  Inbox& other = net::use_service<Inbox>(other_ioc);
  auto here = std::make_shared<Recorder>();
  auto there = std::make_shared<Recorder>();
  here->expected_thread = there->expected_thread = std::this_thread::get_id();
  auto poll = [](net::io_context& ioc) {
    ioc.restart();
    return ioc.poll();
  };
  // The cork's turns until it flushes (and nothing more is posted).
  auto until_flushed = [&] {
    for (int i = 0; i < 8 && this_ioc.poll_one() == 1; ++i) {
    }
  };
  FlushQueue::ThreadBinding binding(queue);
  // A publish read on this thread fans out: to the other thread's subscriber one by one and in
  // a batch, to its own through its inbox, and a task for the other thread.
  net::post(this_ioc, [&] {
    deliver(other, there, "t1");
    {
      Inbox::Batch batch;
      deliver(other, there, "t2");
      deliver(mine, here, "h1");
    }
    other.post(there, [there] { there->got.push_back("t3"); });
    deliver(mine, here, "h2");
  });
  ASSERT_EQ(this_ioc.run_one(), 1u);
  // Its own inbox's share runs at once (its drain, with the cork's first turn); the other
  // thread is not woken yet.
  EXPECT_EQ(this_ioc.poll_one() + this_ioc.poll_one(), 2u);
  EXPECT_EQ(here->got, (std::vector<std::string>{"h1", "h2"}));
  EXPECT_EQ(poll(other_ioc), 0u);
  // The cork flushes after its quiet turns and wakes it: one drain, everything in order.
  until_flushed();
  EXPECT_EQ(poll(other_ioc), 1u);
  EXPECT_EQ(there->got, (std::vector<std::string>{"t1", "t2", "t3"}));

  // What the other thread hands its own inbox meanwhile (the reply to an unsubscribe, say) wakes
  // it at once, and goes behind what waits: the entries kept their place when they were handed.
  net::post(this_ioc, [&] { deliver(other, there, "t4"); });
  this_ioc.restart();  // it ran out of work
  ASSERT_EQ(this_ioc.run_one(), 1u);
  net::post(other_ioc, [&] { deliver(other, there, "t5"); });
  EXPECT_EQ(poll(other_ioc), 2u);  // that handler, then one drain
  EXPECT_EQ(there->got, (std::vector<std::string>{"t1", "t2", "t3", "t4", "t5"}));
  // The cork finds nothing left to wake it for.
  until_flushed();
  EXPECT_EQ(poll(other_ioc), 0u);
}
