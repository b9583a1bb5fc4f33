#include "redis/RedisQuery.h"

#include <hiredis/hiredis.h>

#include <boost/asio/steady_timer.hpp>

namespace switchboard::cluster {

namespace {
struct Asking {
  Asking(const Resp2Socket::Strand& strand, RedisQuery::Done d)
      : socket(Resp2Socket::create(strand)), timer(strand), done(std::move(d)) {}
  std::shared_ptr<Resp2Socket> socket;
  boost::asio::steady_timer timer;
  RedisQuery::Done done;
  bool auth = false;  // an AUTH's answer comes first
  ~Asking() { socket->close(); }

  void finish(const redisReply* reply, const std::string& error) {
    if (!done) return;
    RedisQuery::Done d = std::move(done);
    done = nullptr;
    socket->close();
    timer.cancel();
    d(reply, error);
  }
};
}  // namespace

void RedisQuery::ask(const Resp2Socket::Strand& strand, const RedisAddress& address, std::vector<std::string> command,
                     std::chrono::milliseconds timeout, Done done) {
  // The timer's wait holds the question until it is answered or its time is up; the socket's
  // handlers only look for it.
  auto asking = std::make_shared<Asking>(strand, std::move(done));
  std::weak_ptr<Asking> weak = asking;
  asking->timer.expires_after(timeout);
  asking->timer.async_wait([asking](boost::system::error_code ec) {
    if (!ec) asking->finish(nullptr, "no answer in time");
  });
  asking->socket->connect(
      address, timeout,
      [weak, password = address.password, command = std::move(command)] {
        auto asking = weak.lock();
        if (!asking) return;
        if (!password.empty()) {
          asking->auth = true;
          asking->socket->send({"AUTH", password});
        }
        std::vector<std::string_view> args(command.begin(), command.end());
        asking->socket->send(args);
      },
      [weak](const redisReply& reply) {
        auto asking = weak.lock();
        if (!asking) return;
        if (asking->auth) {
          asking->auth = false;
          if (reply.type == REDIS_REPLY_ERROR) asking->finish(nullptr, "AUTH refused: " + std::string(reply.str, reply.len));
          return;
        }
        asking->finish(&reply, "");
      },
      [weak](const std::string& why) {
        if (auto asking = weak.lock()) asking->finish(nullptr, why);
      });
}

}  // namespace switchboard::cluster
