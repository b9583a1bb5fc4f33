#include "RedisSentinelProcess.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "FreePort.h"
#include "RedisCli.h"

namespace switchboard::test {

namespace {

// Starts redis-server with `args`, its output to /dev/null (each writes a log file instead). It
// is killed if the thread that started it ends (the test process killed on a timeout included).
pid_t spawn(const std::vector<std::string>& args) {
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent went before prctl
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, STDIN_FILENO);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>("redis-server"));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(SWITCHBOARD_REDIS_SERVER, argv.data());
    ::_exit(127);
  }
  return pid;
}

void kill_and_reap(pid_t& pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  pid = -1;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// redis-cli's lines of a list of field/value lists (SENTINEL replicas …): one map per entry,
// each starting at its "name" field.
std::vector<std::map<std::string, std::string>> entries_of(const std::string& text) {
  std::vector<std::map<std::string, std::string>> entries;
  auto lines = lines_of(text);
  for (std::size_t i = 0; i + 1 < lines.size(); i += 2) {
    if (lines[i] == "name" || entries.empty()) entries.emplace_back();
    entries.back()[lines[i]] = lines[i + 1];
  }
  return entries;
}

// Polls `condition` every 20 ms for at most `limit`; throws with `what` when it never holds.
void await(const std::function<bool()>& condition, const std::string& what,
           std::chrono::seconds limit = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("Sentinel topology: " + what);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool answers(std::uint16_t port) { return RedisSentinelProcess::cli(port, "PING") == "PONG\n"; }

}  // namespace

RedisSentinelProcess::RedisSentinelProcess() {
  char dir[] = "/tmp/switchboard-sentinel-XXXXXX";
  if (!::mkdtemp(dir)) throw std::runtime_error("cannot make a directory for the Sentinel topology");
  dir_ = dir;
  try {
    servers_[0].port = free_port();
    servers_[1].port = free_port();
    start_server(servers_[0], 0);
    start_server(servers_[1], servers_[0].port);
    for (std::size_t i = 0; i < 3; ++i) start_sentinel(i, servers_[0].port);
    wait_until_ready("never ready");
  } catch (...) {
    stop_all();
    throw;
  }
}

RedisSentinelProcess::~RedisSentinelProcess() { stop_all(); }

void RedisSentinelProcess::stop_all() {
  for (auto& pid : sentinel_pids_) kill_and_reap(pid);
  for (auto& server : servers_) kill_and_reap(server.pid);
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

std::string RedisSentinelProcess::sentinels() const {
  std::string list;
  for (auto port : sentinel_ports_) list += (list.empty() ? "" : ",") + std::string("127.0.0.1:") + std::to_string(port);
  return list;
}

// A data server without persistence, in its own directory (a replica's sync writes there); a
// replica of `master_port` unless it is 0. The master streams its sync to the replica at once
// (the default waits 5 s for more replicas).
void RedisSentinelProcess::start_server(Server& server, std::uint16_t master_port) {
  std::string port = std::to_string(server.port);
  std::string dir = dir_ + "/" + port;
  std::filesystem::create_directories(dir);
  std::vector<std::string> args{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                "--daemonize", "no", "--protected-mode", "no", "--repl-diskless-sync-delay", "0",
                                "--dir", dir, "--logfile", dir + "/redis.log"};
  if (master_port != 0) {
    args.push_back("--replicaof");
    args.push_back("127.0.0.1");
    args.push_back(std::to_string(master_port));
  }
  server.pid = spawn(args);
  await([&] { return answers(server.port); }, "redis-server on port " + port + " does not answer", std::chrono::seconds(10));
}

void RedisSentinelProcess::start_sentinel(std::size_t index, std::uint16_t master_port) {
  std::uint16_t port = free_port();
  std::string conf = dir_ + "/sentinel-" + std::to_string(index) + ".conf";
  {
    std::ofstream out(conf);
    out << "port " << port << "\nbind 127.0.0.1\nprotected-mode no\ndaemonize no\n"
        << "dir " << dir_ << "\nlogfile " << dir_ << "/sentinel-" << index << ".log\n"
        << "sentinel monitor " << kMasterName << " 127.0.0.1 " << master_port << " 2\n"
        << "sentinel down-after-milliseconds " << kMasterName << " 1000\n"
        << "sentinel failover-timeout " << kMasterName << " 3000\n";
  }
  sentinel_ports_.push_back(port);
  sentinel_pids_.push_back(spawn({conf, "--sentinel"}));
  await([&] { return answers(port); }, "sentinel on port " + std::to_string(port) + " does not answer",
        std::chrono::seconds(10));
  // Hello messages every 200 ms (2 s by default): the sentinels find each other sooner.
  cli(port, "SENTINEL DEBUG publish-period 200 info-period 500");
}

// The replica is in sync with the master, and every sentinel knows the two others, names the
// master, and sees the replica up, in sync with that master. Which server is the master is the
// sentinels' word, not this object's memory: on a loaded machine a slow answer can outlast the
// 1 s down-after and fail over once more, promoting a server that was just restarted as a
// replica. When readiness never comes, the error says what was still missing the last time it
// was looked at.
void RedisSentinelProcess::wait_until_ready(const char* what) {
  std::string missing;
  auto ready = [&] {
    auto named = lines_of(cli(sentinel_ports_[0], std::string("SENTINEL get-master-addr-by-name ") + kMasterName));
    for (std::size_t i = 0; i < std::size(servers_); ++i)
      if (named.size() == 2 && named[1] == std::to_string(servers_[i].port)) master_ = i;
    const std::string master = std::to_string(master_port());
    const std::string replica = std::to_string(replica_port());
    // In sync, and online for the master (after the replica's first ACK): WAIT counts it.
    const std::string replication = cli(replica_port(), "INFO replication");
    if (replication.find("master_link_status:up") == std::string::npos) {
      // What the replica says of its link, for the error (role, master, sync under way, down since).
      std::string link;
      for (const auto& line : lines_of(replication))
        if (line.starts_with("role:") || line.starts_with("master_host:") || line.starts_with("master_port:") ||
            line.starts_with("master_link_status:") || line.starts_with("master_sync_in_progress:") ||
            line.starts_with("master_link_down_since_seconds:"))
          link += " " + line;
      missing = "the replica on " + replica + " is not in sync:" + link;
      return false;
    }
    if (cli(master_port(), "INFO replication").find("state=online") == std::string::npos) {
      missing = "the master on " + master + " has no replica online";
      return false;
    }
    for (auto port : sentinel_ports_) {
      auto fields = entries_of(cli(port, std::string("SENTINEL master ") + kMasterName));
      if (fields.size() != 1 || fields[0]["port"] != master || fields[0]["flags"] != "master" ||
          fields[0]["num-other-sentinels"] != "2") {
        missing = "sentinel " + std::to_string(port) + " sees the master as port " +
                  (fields.empty() ? "?" : fields[0]["port"] + ", flags " + fields[0]["flags"] + ", other sentinels " +
                                              fields[0]["num-other-sentinels"]);
        return false;
      }
      bool seen = false;
      std::string replicas;
      for (auto& r : entries_of(cli(port, std::string("SENTINEL replicas ") + kMasterName))) {
        seen = seen || (r["port"] == replica && r["flags"] == "slave" && r["master-link-status"] == "ok" &&
                        r["master-port"] == master);
        replicas += " [port " + r["port"] + ", flags " + r["flags"] + ", link " + r["master-link-status"] +
                    ", of " + r["master-port"] + "]";
      }
      if (!seen) {
        missing = "sentinel " + std::to_string(port) + " sees the replicas" + (replicas.empty() ? " (none)" : replicas);
        return false;
      }
    }
    return true;
  };
  try {
    // A restarted former master is made a replica once the sentinels notice its role, which
    // their INFO every 10 s may take twice over on a loaded machine.
    await(ready, what, std::chrono::seconds(60));
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string(e.what()) + " (last seen: " + missing + ")");
  }
}

void RedisSentinelProcess::kill_master() {
  Server& killed = servers_[master_];
  kill_and_reap(killed.pid);
  master_ = 1 - master_;
  const std::string promoted = std::to_string(master_port());
  await(
      [&] {
        for (auto port : sentinel_ports_) {
          auto reply = lines_of(cli(port, std::string("SENTINEL get-master-addr-by-name ") + kMasterName));
          if (reply.size() != 2 || reply[1] != promoted) return false;
        }
        auto role = lines_of(cli(master_port(), "ROLE"));
        return !role.empty() && role[0] == "master";
      },
      "the replica was not promoted");
}

void RedisSentinelProcess::restore() {
  Server& killed = servers_[1 - master_];
  if (killed.pid > 0) return;
  start_server(killed, master_port());
  wait_until_ready("the killed server did not come back as a replica");
}

std::string RedisSentinelProcess::cli(std::uint16_t port, const std::string& args) { return redis_cli(port, args); }

}  // namespace switchboard::test
