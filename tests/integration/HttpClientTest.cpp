// The node's outbound HTTP client on its own: the cap on connections per origin, the timeout,
// against the test's webhook receiver (tests/support/webhook_receiver.py) that never answers.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <mutex>
#include <thread>

#include "FreePort.h"
#include "TestNode.h"
#include "WebhookReceiver.h"
#include "backend/HttpClient.h"

using namespace switchboard;
using namespace switchboard::test;
namespace net = boost::asio;

namespace {
// An io_context run by a thread of the test's own.
struct Loop {
  net::io_context ioc;
  net::executor_work_guard<net::io_context::executor_type> work = net::make_work_guard(ioc);
  std::thread thread{[this] { ioc.run(); }};
  ~Loop() {
    work.reset();
    ioc.stop();
    thread.join();
  }
};
}  // namespace

TEST(HttpClient, AnOriginGetsAtMostItsConnectionsAtOnceAndTheNextRequestWaitsItsTurn) {
  WebhookReceiver receiver({.secret = "unused-secret-0123456789", .hang = true});
  Loop loop;
  server::HttpClient::Options options;
  options.max_connections = 2;
  options.timeout = std::chrono::milliseconds(300);
  auto client = server::HttpClient::make(net::make_strand(loop.ioc), options);
  std::atomic<int> answered{0};
  std::mutex mutex;
  std::vector<std::string> errors;
  for (int i = 0; i < 3; ++i) {
    server::HttpClient::Request request;
    request.url = receiver.url();
    request.body = "{\"events\":[" + std::to_string(i) + "]}";
    client->send(std::move(request), [&](server::HttpClient::Response response) {
      std::lock_guard lock(mutex);
      errors.push_back(response.error);
      EXPECT_EQ(response.status, 0u);
      ++answered;
    });
  }
  auto first = receiver.next_report(), second = receiver.next_report();
  EXPECT_LT(first["events"][0].get<int>(), 2);
  EXPECT_LT(second["events"][0].get<int>(), 2);
  // The third goes out only once one of the first two has ended (timed out) and freed its place.
  auto third = receiver.next_report();
  EXPECT_GE(answered.load(), 1);
  EXPECT_EQ(third["events"][0], 2);
  ASSERT_TRUE(eventually([&] { return answered.load() == 3; }));
  client->stop();
  std::lock_guard lock(mutex);
  for (const auto& error : errors) EXPECT_EQ(error, "read: timeout");
}

TEST(HttpClient, AUrlWithNothingListeningFailsWithTheReason) {
  Loop loop;
  auto client = server::HttpClient::make(net::make_strand(loop.ioc), {});
  std::promise<server::HttpClient::Response> answer;
  server::HttpClient::Request request;
  request.url = "http://127.0.0.1:" + std::to_string(free_port()) + "/";
  client->send(std::move(request), [&](server::HttpClient::Response response) { answer.set_value(std::move(response)); });
  auto future = answer.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto response = future.get();
  EXPECT_EQ(response.status, 0u);
  EXPECT_EQ(response.error.rfind("connect: ", 0), 0u) << response.error;
}
