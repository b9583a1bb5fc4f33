#pragma once
// A Redis watched by Sentinel, for tests: a master, one replica of it and three sentinels (quorum
// 2), all redis-server processes on 127.0.0.1 and free ports, in a temporary directory of their
// own (each sentinel rewrites its config file there). The constructor returns once the replica
// is in sync (and online for the master: a WAIT counts it) and every sentinel knows the two
// others and the replica; the destructor kills them all and removes the directory. The processes
// also die with the thread that started them (PR_SET_PDEATHSIG): make and restore the topology
// on the test's main thread.
//
// kill_master() SIGKILLs the master and returns once the sentinels promoted the replica;
// restore() starts the killed server again as a replica of the new master and waits until the
// sentinels see it in sync, so that a later kill_master() fails over again.
//
// The sentinels take a master for down after 1 s without an answer, and exchange their hello
// messages every 200 ms (SENTINEL DEBUG publish-period): a topology is ready in about 1 s and a
// failover takes about 2 s.
#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

namespace switchboard::test {

class RedisSentinelProcess {
 public:
  static constexpr const char* kMasterName = "mymaster";

  RedisSentinelProcess();  // throws std::runtime_error when the topology does not come up
  ~RedisSentinelProcess();
  RedisSentinelProcess(const RedisSentinelProcess&) = delete;
  RedisSentinelProcess& operator=(const RedisSentinelProcess&) = delete;

  std::string master_name() const { return kMasterName; }
  // The data servers' ports: the master's, and its replica's.
  std::uint16_t master_port() const { return servers_[master_].port; }
  std::uint16_t replica_port() const { return servers_[1 - master_].port; }
  const std::vector<std::uint16_t>& sentinel_ports() const { return sentinel_ports_; }
  // "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3", as --redis-sentinel takes them.
  std::string sentinels() const;

  // SIGKILL of the master; returns once a sentinel names the replica and the replica says it is
  // master (within 20 s, else throws). master_port() is then the promoted one's.
  void kill_master();
  // The killed server again, as a replica of the current master, in sync and seen by every
  // sentinel. Nothing to do when none was killed. master_port() is afterwards the server the
  // sentinels name (one more failover on a loaded machine may have promoted the restarted one).
  void restore();

  // redis-cli against 127.0.0.1:port; what it printed.
  static std::string cli(std::uint16_t port, const std::string& args);

 private:
  struct Server {
    std::uint16_t port = 0;
    pid_t pid = -1;
  };
  void start_server(Server& server, std::uint16_t master_port);
  void start_sentinel(std::size_t index, std::uint16_t master_port);
  void wait_until_ready(const char* what);
  void stop_all();

  std::string dir_;
  Server servers_[2];
  std::size_t master_ = 0;  // index in servers_
  std::vector<std::uint16_t> sentinel_ports_;
  std::vector<pid_t> sentinel_pids_;
};

}  // namespace switchboard::test
