// One switchboard node under test: started as a child process pinned to one CPU, its output
// in a log file, probed until ready, stopped with SIGTERM. With `nats`, a nats-server in its
// place (--broker nats): the same pinning, log and stop, a generated configuration with its
// WebSocket listener (no TLS) on the port clients connect to, ready when its monitoring port
// answers GET /healthz.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ProcStats.h"

namespace switchboard::bench {

struct NodeSettings {
  std::string executable;               // path of `switchboard`
  std::vector<std::string> wrapper;     // e.g. {"valgrind", "--tool=callgrind"}: run the node under it
  std::vector<std::string> extra_args;  // appended to the node's command line
  int cpu = 0;                          // CPU the node is pinned to (like `taskset -c 0`); -1: not pinned
  int threads = 1;                      // --threads
  std::string redis;                    // --redis URL (or seeds, with redis_cluster), empty: alone
  bool redis_cluster = false;           // `redis` goes to --redis-cluster rather than --redis
  std::string log_path;                 // the node's stdout and stderr
  bool nats = false;                    // `executable` is nats-server (GOMAXPROCS=threads)
};

class NodeProcess {
 public:
  explicit NodeProcess(NodeSettings settings);
  ~NodeProcess();
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;

  // Forks and execs the node on a free port, then polls GET /readyz until it answers 200
  // (nats-server: GET /healthz on its monitoring port; its configuration next to the log).
  // Throws std::runtime_error if it exits or is not ready within `timeout`.
  void start(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // SIGTERM, then SIGKILL after `grace`; returns how it ended ("exit 0", "signal 11", …).
  std::string stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

  bool alive();  // false once it has exited, on its own or not
  pid_t pid() const { return pid_; }
  std::uint16_t port() const { return port_; }
  ProcStats stats() const { return ProcStats::of(pid_); }
  // GET /metrics, as metric line (name with labels) → value. nats-server: its /varz counters
  // under the names of the node's equivalents (out_msgs as switchboard_deliveries_total, in_msgs
  // as switchboard_messages_published_total, slow_consumers, connections as switchboard_connections).
  std::map<std::string, double> metrics() const;
  // Warning and error lines of the node's log (the first `limit` of them) and their count.
  nlohmann::ordered_json log_problems(std::size_t limit = 5) const;
  // How the process ended, once it has ("" while it runs).
  const std::string& exit_status() const { return exit_status_; }

 private:
  void reap(int status);
  // The command line of the process under test (nats-server: writes its configuration first).
  std::vector<std::string> command_line();
  std::map<std::string, double> nats_metrics() const;

  NodeSettings settings_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::uint16_t monitor_port_ = 0;  // nats-server's monitoring port
  std::string exit_status_;
  bool stopped_ = false;
};

}  // namespace switchboard::bench
