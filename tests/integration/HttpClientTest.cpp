// The node's outbound HTTP client on its own: the cap on connections per origin, the requests
// waiting their turn, the timeout from sending, against the test's backend
// (tests/support/webhook_receiver.py), slow or never answering.
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

namespace http_client_test {  // this suite's own names: the sanitizer builds compile suites together

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

// Sends `n` requests numbered from `first` to `url`; each answer is kept under `mutex`.
struct Answers {
  std::mutex mutex;
  std::vector<server::HttpClient::Response> responses;
  std::atomic<int> count{0};
};
void send_numbered(server::HttpClient& client, const std::string& url, int first, int n, Answers& answers) {
  for (int i = first; i < first + n; ++i) {
    server::HttpClient::Request request;
    request.url = url;
    request.body = "{\"events\":[" + std::to_string(i) + "]}";
    client.send(std::move(request), [&answers](server::HttpClient::Response response) {
      std::lock_guard lock(answers.mutex);
      answers.responses.push_back(std::move(response));
      ++answers.count;
    });
  }
}

TEST(HttpClient, AnOriginGetsAtMostItsConnectionsAtOnceAndTheNextRequestWaitsItsTurn) {
  WebhookReceiver receiver({.secret = "unused-secret-0123456789", .delay_ms = 100});
  Loop loop;
  server::HttpClient::Options options;
  options.max_connections = 2;
  options.timeout = std::chrono::seconds(10);
  auto client = server::HttpClient::make(net::make_strand(loop.ioc), options);
  Answers answers;
  send_numbered(*client, receiver.url(), 0, 3, answers);
  auto first = receiver.next_report(), second = receiver.next_report();
  EXPECT_LT(first["events"][0].get<int>(), 2);
  EXPECT_LT(second["events"][0].get<int>(), 2);
  // The third goes out only once one of the first two was answered and freed its connection.
  auto third = receiver.next_report();
  EXPECT_GE(answers.count.load(), 1);
  EXPECT_EQ(third["events"][0], 2);
  ASSERT_TRUE(eventually([&] { return answers.count.load() == 3; }));
  client->stop();
  std::lock_guard lock(answers.mutex);
  // Each was answered (401: the requests are not signed).
  for (const auto& response : answers.responses) EXPECT_EQ(response.status, 401u) << response.error;
}

TEST(HttpClient, ARequestThatWaitsEndsWithinItsTimeoutAndTooManyWaitingAreBusy) {
  WebhookReceiver receiver({.secret = "unused-secret-0123456789", .hang = true});
  Loop loop;
  server::HttpClient::Options options;
  options.max_connections = 1;
  options.max_waiting = 1;
  options.timeout = std::chrono::milliseconds(300);
  auto client = server::HttpClient::make(net::make_strand(loop.ioc), options);
  Answers answers;
  send_numbered(*client, receiver.url(), 0, 3, answers);
  EXPECT_EQ(receiver.next_report()["events"][0], 0);
  ASSERT_TRUE(eventually([&] { return answers.count.load() == 3; }));
  std::lock_guard lock(answers.mutex);
  // The third at once: one under way and one waiting already.
  EXPECT_EQ(answers.responses[0].error.rfind("busy: 1 requests under way and 1 waiting", 0), 0u)
      << answers.responses[0].error;
  EXPECT_FALSE(answers.responses[0].sent);
  // The first times out reading; the second's time counts from its sending: it ends at its
  // deadline too (failed while it waited, or sent with the moment left once the first freed the
  // connection), whichever of the two ends first.
  // (Sent with that moment, it times out at whatever step it reached: resolve, connect, write, read.)
  auto is_timeout = [](const std::string& error) {
    return error == "timeout (waiting for a connection)" || error.ends_with(": timeout");
  };
  EXPECT_TRUE(is_timeout(answers.responses[1].error)) << answers.responses[1].error;
  EXPECT_TRUE(is_timeout(answers.responses[2].error)) << answers.responses[2].error;
  EXPECT_TRUE(answers.responses[1].error == "read: timeout" || answers.responses[2].error == "read: timeout");
  client->stop();
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
  EXPECT_TRUE(response.sent) << "a connection was attempted";
}

}  // namespace http_client_test
