#pragma once
// One connection to Redis through hiredis's asynchronous API, driven by the node's Asio event
// loop: the socket hiredis opens is watched with an asio::posix::stream_descriptor, and every
// hiredis call runs on this connection's strand. It connects, reconnects with capped exponential
// backoff and full jitter, and says when it goes up or down. It connects to the address given, or
// to the one an address source names before each attempt (with --redis-sentinel), and may insist
// on reaching a master (ROLE).
//
// Everything but the constructor and destructor must be called on the strand.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "redis/RedisBackoff.h"
#include "switchboard/cluster/RedisAddress.h"
#include "switchboard/cluster/RedisTiming.h"

struct redisAsyncContext;
struct redisReply;

namespace switchboard::cluster {

class RedisConnection {
 public:
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
  // A command's reply, or nullptr when the connection was lost before it came.
  using ReplyHandler = std::function<void(redisReply* reply)>;
  // Every reply on a subscribed connection: subscribe/unsubscribe confirmations and messages;
  // nullptr once per subscribed channel when the connection is lost.
  using PushHandler = std::function<void(redisReply* reply)>;
  // true when the connection is up (after AUTH/SELECT were sent), false when it went down.
  using StateHandler = std::function<void(bool up)>;

  using Timing = RedisTiming;
  // Where to connect, asked before each attempt: the address, or nullopt to try again after the
  // backoff. It may answer later, on the strand.
  using Found = std::function<void(std::optional<RedisAddress> address)>;
  using AddressSource = std::function<void(Found found)>;
  // Every error reply, before its handler gets it.
  using ErrorObserver = std::function<void(std::string_view error)>;

  RedisConnection(Strand strand, RedisAddress address, std::string name, Timing timing);
  RedisConnection(Strand strand, RedisAddress address, std::string name)
      : RedisConnection(std::move(strand), std::move(address), std::move(name), Timing{}) {}
  // Frees the hiredis context: pending handlers get nullptr. Call stop() on the strand first
  // while the event loop runs; destroying after the loop stopped is fine too.
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Before start(). Each connect asks `source` for the address instead of using the one given
  // (a node on Sentinel: SentinelResolver).
  void set_address_source(AddressSource source) { source_ = std::move(source); }
  // Before start(). The connection goes up only once ROLE says it reached a master; otherwise it
  // drops and connects again (asking the address source again).
  void require_master() { require_master_ = true; }
  void on_error_reply(ErrorObserver observer) { on_error_ = std::move(observer); }
  void start(StateHandler on_state, PushHandler on_push = nullptr);
  // Disconnects for good: pending handlers get nullptr, no reconnect.
  void stop();
  // Drops the connection now (pending handlers get nullptr) and reconnects after the backoff.
  void reset(std::string_view why);
  // Waiting to reconnect (the backoff): tries now (the master moved: it is worth trying at once).
  void retry_now();
  bool up() const { return up_; }
  const Strand& strand() const { return strand_; }

  // Sends a command given as its arguments (binary-safe). Returns false, without calling
  // `done`, when the connection is not up; otherwise `done` is called exactly once.
  bool command(const std::vector<std::string_view>& args, ReplyHandler done);
  // SUBSCRIBE / UNSUBSCRIBE one channel; replies go to the push handler.
  bool subscribe(std::string_view channel);
  bool unsubscribe(std::string_view channel);

 private:
  struct Watcher;
  static void on_connect(const redisAsyncContext* ac, int status);
  static void on_disconnect(const redisAsyncContext* ac, int status);
  static void on_reply(redisAsyncContext* ac, void* reply, void* privdata);
  static void on_push(redisAsyncContext* ac, void* reply, void* privdata);

  void connect();
  void open();
  void connected();
  void went_up();
  void lost(std::string_view why);
  void schedule_reconnect();
  void watch_replies();
  bool send(const std::vector<std::string_view>& args, void (*callback)(redisAsyncContext*, void*, void*),
            void* privdata);
  bool send_checked(const std::vector<std::string_view>& args, ReplyHandler done);

  Strand strand_;
  RedisAddress address_;
  std::string name_;
  Timing timing_;
  AddressSource source_;
  std::uint64_t asks_ = 0;  // tells the address source's latest answer from earlier ones
  bool require_master_ = false;
  ErrorObserver on_error_;
  StateHandler on_state_;
  PushHandler on_push_;
  redisAsyncContext* ac_ = nullptr;
  std::shared_ptr<Watcher> watcher_;
  boost::asio::steady_timer timer_;  // connect timeout, then reconnect backoff
  boost::asio::steady_timer watchdog_;  // unanswered commands, while connected
  std::size_t unanswered_ = 0;
  std::chrono::steady_clock::time_point last_reply_;
  RedisBackoff backoff_;  // the wait between attempts, and which failures are logged
  bool up_ = false;
  bool stopped_ = false;
  // Its timers' handlers hold it weakly: one whose timer fired just before stop() may run after
  // the connection is gone (a Redis Cluster's router frees a dropped master's link at once).
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace switchboard::cluster
