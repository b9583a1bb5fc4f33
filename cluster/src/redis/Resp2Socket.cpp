#include "redis/Resp2Socket.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

#include "redis/RedisArgv.h"

namespace switchboard::cluster {

namespace net = boost::asio;
using tcp = net::ip::tcp;

Resp2Socket::Resp2Socket(Strand strand) : strand_(std::move(strand)), resolver_(strand_), socket_(strand_), timer_(strand_) {}

Resp2Socket::~Resp2Socket() {
  if (reader_) redisReaderFree(reader_);
}

void Resp2Socket::connect(const RedisAddress& address, std::chrono::milliseconds timeout, std::function<void()> opened,
                          ReplyHandler on_reply, ClosedHandler closed) {
  opened_ = std::move(opened);
  on_reply_ = std::move(on_reply);
  closed_ = std::move(closed);
  timer_.expires_after(timeout);
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec && !self->open_) self->fail("connect timed out");
  });
  resolver_.async_resolve(
      address.host, std::to_string(address.port),
      [self = shared_from_this(), address](boost::system::error_code ec, const tcp::resolver::results_type& found) {
        if (self->closed_for_good_) return;
        if (ec) return self->fail("cannot resolve " + address.host + ": " + ec.message());
        net::async_connect(self->socket_, found, [self, address](boost::system::error_code ec, const tcp::endpoint&) {
          if (self->closed_for_good_) return;
          if (ec) return self->fail("cannot connect to " + address.describe() + ": " + ec.message());
          self->timer_.cancel();
          boost::system::error_code ignored;
          self->socket_.set_option(tcp::no_delay(true), ignored);
          self->socket_.set_option(net::socket_base::keep_alive(true), ignored);  // a peer gone without a reset
          self->reader_ = redisReaderCreate();
          self->open_ = true;
          self->read();
          if (self->opened_) self->opened_();
        });
      });
}

void Resp2Socket::fail(const std::string& why) {
  if (closed_for_good_) return;
  ClosedHandler closed = std::move(closed_);
  close();
  if (closed) closed(why);
}

void Resp2Socket::close() {
  if (closed_for_good_) return;
  closed_for_good_ = true;
  open_ = false;
  opened_ = nullptr;
  on_reply_ = nullptr;
  closed_ = nullptr;
  boost::system::error_code ignored;
  resolver_.cancel();
  socket_.close(ignored);
  timer_.cancel();
}

bool Resp2Socket::send(const std::vector<std::string_view>& args) {
  if (!open_) return false;
  RedisArgv argv(args);
  char* command = nullptr;
  int length = redisFormatCommandArgv(&command, argv.count(), argv.argv.data(), argv.lengths.data());
  if (length < 0) return false;
  outbox_.append(command, static_cast<std::size_t>(length));
  redisFreeCommand(command);
  if (writing_.empty()) write();
  return true;
}

void Resp2Socket::write() {
  writing_.swap(outbox_);
  net::async_write(socket_, net::buffer(writing_), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
    if (self->closed_for_good_) return;
    if (ec) return self->fail("write failed: " + ec.message());
    self->writing_.clear();
    if (!self->outbox_.empty()) self->write();
  });
}

void Resp2Socket::read() {
  socket_.async_read_some(net::buffer(input_), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
    if (self->closed_for_good_) return;
    if (ec) return self->fail(ec == net::error::eof ? "closed" : ec.message());
    if (redisReaderFeed(self->reader_, self->input_.data(), n) != REDIS_OK) return self->fail("unreadable reply");
    for (;;) {
      void* reply = nullptr;
      if (redisReaderGetReply(self->reader_, &reply) != REDIS_OK) return self->fail("unreadable reply");
      if (!reply) break;
      std::unique_ptr<redisReply, void (*)(void*)> owned(static_cast<redisReply*>(reply), freeReplyObject);
      if (self->on_reply_) self->on_reply_(*owned);
      if (self->closed_for_good_) return;  // the handler closed it
    }
    self->read();
  });
}

}  // namespace switchboard::cluster
