#pragma once
// One TCP connection to a Redis server speaking RESP2, on Asio: the host resolved
// asynchronously, a connect timeout, commands written with hiredis's redisFormatCommandArgv and
// replies read with its redisReader. What hiredis 0.14's asynchronous API cannot do (sharded
// pub/sub) or need not do (a one-off question to a cluster's node) goes through it.
//
// One connection attempt per object: after close() (or once it closed by itself) it stays
// closed, and no handler of it runs any more. Created as a shared_ptr (its pending operations
// hold it); everything on the strand given, handlers included.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "redis/RedisConnection.h"
#include "switchboard/cluster/RedisAddress.h"

struct redisReader;
struct redisReply;

namespace switchboard::cluster {

class Resp2Socket : public std::enable_shared_from_this<Resp2Socket> {
 public:
  using Strand = RedisConnection::Strand;
  // Each reply, in order; the handler may call close().
  using ReplyHandler = std::function<void(const redisReply& reply)>;
  // The connection could not be made, or was lost: why, for the log.
  using ClosedHandler = std::function<void(const std::string& why)>;

  static std::shared_ptr<Resp2Socket> create(Strand strand) {
    return std::shared_ptr<Resp2Socket>(new Resp2Socket(std::move(strand)));
  }
  ~Resp2Socket();
  Resp2Socket(const Resp2Socket&) = delete;
  Resp2Socket& operator=(const Resp2Socket&) = delete;

  // Connects; `opened` runs once it is, `closed` if it cannot be made within `timeout` or, once
  // open, when it is lost. AUTH is not sent here (the address's password is the caller's).
  void connect(const RedisAddress& address, std::chrono::milliseconds timeout, std::function<void()> opened,
               ReplyHandler on_reply, ClosedHandler closed);
  // Queues a command given as its arguments (binary-safe). False when the socket is not open.
  bool send(const std::vector<std::string_view>& args);
  // Closes now; no handler runs afterwards.
  void close();
  bool open() const { return open_; }

 private:
  explicit Resp2Socket(Strand strand);
  void fail(const std::string& why);
  void write();
  void read();

  Strand strand_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer timer_;
  std::function<void()> opened_;
  ReplyHandler on_reply_;
  ClosedHandler closed_;
  redisReader* reader_ = nullptr;
  std::array<char, 16 * 1024> input_{};
  std::string outbox_;   // formatted commands not yet handed to the socket
  std::string writing_;  // what the socket is writing
  bool open_ = false;
  bool closed_for_good_ = false;
};

}  // namespace switchboard::cluster
