#pragma once
// A real Redis Cluster for tests: `masters` masters with `replicas` replicas each, every node a
// `redis-server --cluster-enabled yes` on 127.0.0.1 with free ports for both its port and its
// cluster bus port (--cluster-port), each in its own temporary directory (its nodes.conf and log).
// Three or more masters are joined by `redis-cli --cluster create … --cluster-replicas r`; a
// single master (which `create` refuses) takes every slot with CLUSTER ADDSLOTSRANGE 0 16383.
// The constructor returns once the cluster is healthy (await_healthy()); the destructor stops
// every node (SIGTERM, then SIGKILL) and removes the directories.
//
// Nodes are numbered from 0: the masters first, then the replicas (which master each replica
// follows is `create`'s choice; master_of() says who owns a slot now).
#include <sys/types.h>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace switchboard::test {

class RedisClusterProcess {
 public:
  struct Options {
    std::size_t masters = 3;   // 1, or 3 and more
    std::size_t replicas = 0;  // per master (only with 3 masters or more)
    // How long a node may be silent before the others take it for failed (a replica of a failed
    // master is promoted about twice this after it died).
    std::chrono::milliseconds node_timeout{1000};
    // cluster-require-full-coverage: with yes (Redis's default), every slot refuses commands
    // while any slot has no master.
    bool require_full_coverage = true;
  };

  // Starts the nodes and forms the cluster; throws std::runtime_error when it does not come up.
  RedisClusterProcess();
  explicit RedisClusterProcess(Options options);
  ~RedisClusterProcess();
  RedisClusterProcess(const RedisClusterProcess&) = delete;
  RedisClusterProcess& operator=(const RedisClusterProcess&) = delete;

  std::size_t size() const { return nodes_.size(); }
  std::uint16_t port(std::size_t node) const { return nodes_.at(node).port; }
  std::string url(std::size_t node) const { return "redis://127.0.0.1:" + std::to_string(port(node)); }
  // "127.0.0.1:p0,127.0.0.1:p1,…": every node, as seeds.
  std::string seeds() const;
  bool running(std::size_t node) const { return nodes_.at(node).pid > 0; }

  // Runs redis-cli against the node (without -c: no redirections followed) and returns what it
  // printed.
  std::string cli(std::size_t node, const std::string& args) const;

  // The node that serves `slot` as master, as a running node sees it (CLUSTER NODES). Throws
  // when no running node names a master for it.
  std::size_t master_of(int slot) const;
  // SIGKILLs the master of `slot`; returns the node killed. Its replica takes over after about
  // twice the node timeout (await_healthy() waits for that).
  std::size_t kill_master_of(int slot);
  void kill(std::size_t node);  // SIGKILL
  // Starts a stopped or killed node again from its directory: same ports, same node id; a killed
  // master whose replica took over comes back as that replica's replica.
  void restart(std::size_t node);

  // Waits until every running node says cluster_state:ok, knows every node, has all 16384 slots
  // served (cluster_slots_ok), names the same master for every slot and every other running node
  // as a replica, and every running replica's link to its master is up. Polls; throws std::runtime_error
  // after `deadline`.
  void await_healthy(std::chrono::milliseconds deadline = std::chrono::seconds(30)) const;

 private:
  struct Node {
    std::uint16_t port = 0;
    std::uint16_t bus_port = 0;
    std::string dir;
    pid_t pid = -1;
  };
  void start(std::size_t node);
  void stop(std::size_t node);
  void await_answering(std::size_t node, std::chrono::milliseconds deadline) const;
  std::string log_of(std::size_t node) const;
  void form();

  Options options_;
  std::string root_;  // the temporary directory holding every node's
  std::vector<Node> nodes_;
};

}  // namespace switchboard::test
