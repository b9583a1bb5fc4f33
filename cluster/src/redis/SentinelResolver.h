#pragma once
// Where the Redis master watched by Sentinel is now, for a node started with --redis-sentinel.
// The node's connections to Redis take their address from resolve() on every (re)connect, and
// check with ROLE that they reached the master (RedisConnection::require_master).
//
// resolve() asks a sentinel `SENTINEL get-master-addr-by-name NAME` on a query connection that
// holds one sentinel at a time: it tries them in the order given, each with a short connect
// timeout, and the one that named the master goes to the front (a later reconnect tries it first). A
// sentinel that does not know NAME (null answer) goes to the back, and the next one is asked.
//
// start() also watches for a failover: a second connection, to one sentinel at a time as well
// (the next in turn that names the master),
// subscribes to "+switch-master"; a switch of our master, or a periodic check (every
// check_period) that finds the sentinels naming another address than the last one handed out,
// calls the `changed` handler (the link then drops its connections, which connect again through
// resolve()).
//
// Everything runs on the strand given; the handlers too.
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "redis/RedisConnection.h"
#include "switchboard/cluster/RedisAddress.h"
#include "switchboard/cluster/RedisTiming.h"

namespace switchboard::cluster {

class SentinelResolver {
 public:
  using Strand = RedisConnection::Strand;
  using Found = RedisConnection::Found;
  using ChangedHandler = std::function<void(std::string_view why)>;

  struct Options {
    std::vector<RedisAddress> sentinels;  // host, port and password of each sentinel
    std::string master_name;
    RedisAddress master;  // the master's password and db (its host and port come from the sentinels)
    // Connections to the sentinels: a short connect timeout, so that a dead one is soon passed by.
    RedisTiming timing{std::chrono::milliseconds(500), std::chrono::milliseconds(50), std::chrono::milliseconds(1000),
                       std::chrono::milliseconds(1000)};
    std::chrono::milliseconds check_period{5000};
  };

  SentinelResolver(Strand strand, Options options);
  ~SentinelResolver();
  SentinelResolver(const SentinelResolver&) = delete;
  SentinelResolver& operator=(const SentinelResolver&) = delete;

  // On the strand.
  void start(ChangedHandler changed);
  // Disconnects; resolve() calls still waiting are dropped (their connections stop with it).
  void stop();
  // The master's address (with its password and db) once a sentinel named it. Waits while no
  // sentinel can be reached.
  void resolve(Found found);
  // The sentinel that answered last (for logs).
  std::string sentinel_in_use() const { return order_.empty() ? std::string() : order_.front().describe(); }

 private:
  void ask(Found found);
  void send_waiting();
  void on_switch(redisReply* reply);
  void schedule_check();

  Strand strand_;
  Options options_;
  ChangedHandler changed_;
  std::vector<RedisAddress> order_;  // the sentinels, the one that answered last first
  std::size_t query_cursor_ = 0;     // the next one the query connection tries
  std::size_t in_use_ = 0;           // the one it tries or holds now
  std::size_t watch_cursor_ = 0;     // the next one the watcher tries
  std::unique_ptr<RedisConnection> queries_;
  std::unique_ptr<RedisConnection> watcher_;
  std::vector<Found> waiting_;  // asked while the query connection is down
  std::optional<RedisAddress> last_;  // the address handed out last
  std::size_t nulls_in_a_row_ = 0;   // sentinels that did not know the master, in a row
  boost::asio::steady_timer check_;
  bool stopped_ = false;
};

}  // namespace switchboard::cluster
