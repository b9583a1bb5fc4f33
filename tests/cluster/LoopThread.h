#pragma once
// For the tests of the Redis parts that live on a strand: an event loop on a thread of its own
// (LoopThread), and what their handlers reported, kept in order for the test's thread (Reports).
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace switchboard::test {

class LoopThread {
 public:
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

  LoopThread() : thread_([this] { ioc_.run(); }) {}
  ~LoopThread() { stop(); }
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;

  const Strand& strand() const { return strand_; }
  // Runs `f` on the strand and waits for it.
  void on_strand(const std::function<void()>& f) {
    std::promise<void> done;
    boost::asio::post(strand_, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }
  // Ends the loop and joins its thread (what runs on the strand is stopped first, by the test).
  void stop() {
    if (!thread_.joinable()) return;
    work_.reset();
    ioc_.stop();
    thread_.join();
  }

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{ioc_.get_executor()};
  Strand strand_ = boost::asio::make_strand(ioc_);
  std::thread thread_;
};

template <typename Report>
class Reports {
 public:
  void add(Report r) {
    std::lock_guard lock(mutex_);
    reports_.push_back(std::move(r));
    changed_.notify_all();
  }
  // The next report `wanted` accepts (those before it are dropped); throws after `deadline`.
  Report next(const std::function<bool(const Report&)>& wanted = nullptr,
              std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    auto until = std::chrono::steady_clock::now() + deadline;
    for (;;) {
      if (!changed_.wait_until(lock, until, [this] { return !reports_.empty(); }))
        throw std::runtime_error("no such report within " + std::to_string(deadline.count()) + " ms");
      Report r = std::move(reports_.front());
      reports_.pop_front();
      if (!wanted || wanted(r)) return r;
    }
  }
  // Waits for a change (a report added) or `wait`, whichever comes first.
  void wait_a_little(std::chrono::milliseconds wait) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, wait);
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Report> reports_;
};

}  // namespace switchboard::test
