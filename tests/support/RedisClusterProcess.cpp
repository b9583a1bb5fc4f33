#include "RedisClusterProcess.h"

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "FreePort.h"
#include "RedisCli.h"

namespace switchboard::test {

// Named apart from the other support files' helpers (they may share one unity build).
namespace {

constexpr auto kClusterPoll = std::chrono::milliseconds(20);

// One command on a fresh connection to 127.0.0.1:port, with a short timeout: the reply as text
// (status, bulk string or integer), or nullopt when the node did not answer or answered an error.
std::optional<std::string> cluster_query(std::uint16_t port, const std::vector<std::string>& args) {
  timeval timeout{0, 500'000};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port, timeout);
  if (!c) return std::nullopt;
  std::optional<std::string> out;
  if (!c->err && redisSetTimeout(c, timeout) == REDIS_OK) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* reply = static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
    if (reply) {
      if (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS)
        out = std::string(reply->str, reply->len);
      else if (reply->type == REDIS_REPLY_INTEGER)
        out = std::to_string(reply->integer);
      freeReplyObject(reply);
    }
  }
  redisFree(c);
  return out;
}

// "field:value" lines of CLUSTER INFO / INFO: the value of `field`, or "".
std::string cluster_info_field(const std::string& info, const std::string& field) {
  std::istringstream in(info);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.starts_with(field + ":")) return line.substr(field.size() + 1);
  }
  return "";
}

// One line of CLUSTER NODES: "<id> <ip:port@bus> <flags> <master-id> <ping> <pong> <epoch> <link> <slot>…".
struct ClusterNodeLine {
  std::string id;
  std::uint16_t port = 0;
  bool master = false;
  bool replica = false;
  bool failed = false;
  std::vector<std::pair<int, int>> slots;  // ranges served (importing/migrating entries left out)
};

std::vector<ClusterNodeLine> parse_cluster_nodes(const std::string& text) {
  std::vector<ClusterNodeLine> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string w; fields >> w;) f.push_back(w);
    if (f.size() < 8) continue;
    ClusterNodeLine n;
    n.id = f[0];
    auto colon = f[1].find(':'), at = f[1].find('@');
    if (colon == std::string::npos) continue;
    n.port = static_cast<std::uint16_t>(std::atoi(f[1].substr(colon + 1, at - colon - 1).c_str()));
    n.master = f[2].find("master") != std::string::npos;
    n.replica = f[2].find("slave") != std::string::npos;
    n.failed = f[2].find("fail") != std::string::npos && f[2].find("fail?") == std::string::npos;
    for (std::size_t i = 8; i < f.size(); ++i) {
      if (f[i].starts_with("[")) continue;
      auto dash = f[i].find('-');
      int first = std::atoi(f[i].c_str());
      int last = dash == std::string::npos ? first : std::atoi(f[i].c_str() + dash + 1);
      n.slots.emplace_back(first, last);
    }
    out.push_back(std::move(n));
  }
  return out;
}

}  // namespace

RedisClusterProcess::RedisClusterProcess() : RedisClusterProcess(Options{}) {}

RedisClusterProcess::RedisClusterProcess(Options options) : options_(options) {
  if (options_.masters == 0 || options_.masters == 2)
    throw std::invalid_argument("a test cluster has 1 master, or 3 and more");
  if (options_.masters == 1 && options_.replicas > 0)
    throw std::invalid_argument("a one-master test cluster has no replicas");
  std::string tmpl = (std::filesystem::temp_directory_path() / "switchboard-cluster-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("cannot make a temporary directory");
  root_ = tmpl;
  std::set<std::uint16_t> taken;
  auto fresh_port = [&] {
    for (;;)
      if (auto p = free_port(); taken.insert(p).second) return p;
  };
  nodes_.resize(options_.masters * (1 + options_.replicas));
  try {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      nodes_[i].port = fresh_port();
      nodes_[i].bus_port = fresh_port();
      nodes_[i].dir = root_ + "/node" + std::to_string(i);
      std::filesystem::create_directory(nodes_[i].dir);
      start(i);
    }
    for (std::size_t i = 0; i < nodes_.size(); ++i) await_answering(i, std::chrono::seconds(10));
    form();
    await_healthy();
  } catch (...) {
    for (std::size_t i = 0; i < nodes_.size(); ++i) stop(i);
    std::filesystem::remove_all(root_);
    throw;
  }
}

RedisClusterProcess::~RedisClusterProcess() {
  for (std::size_t i = 0; i < nodes_.size(); ++i) stop(i);
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
}

std::string RedisClusterProcess::seeds() const {
  std::string out;
  for (const auto& n : nodes_) out += (out.empty() ? "" : ",") + ("127.0.0.1:" + std::to_string(n.port));
  return out;
}

void RedisClusterProcess::start(std::size_t i) {
  Node& n = nodes_.at(i);
  if (n.pid > 0) return;
  // clang-format off
  std::vector<std::string> args{SWITCHBOARD_REDIS_SERVER,
                                "--port", std::to_string(n.port),
                                "--cluster-port", std::to_string(n.bus_port),
                                "--bind", "127.0.0.1",
                                "--protected-mode", "no",
                                "--cluster-enabled", "yes",
                                "--cluster-config-file", "nodes.conf",
                                "--cluster-node-timeout", std::to_string(options_.node_timeout.count()),
                                "--cluster-replica-validity-factor", "0",
                                "--cluster-require-full-coverage", options_.require_full_coverage ? "yes" : "no",
                                "--repl-diskless-sync-delay", "0",
                                "--save", "",
                                "--appendonly", "no",
                                "--daemonize", "no",
                                "--dir", n.dir,
                                "--logfile", "redis.log"};
  // clang-format on
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t parent = ::getpid();
  n.pid = ::fork();
  if (n.pid < 0) throw std::runtime_error("fork failed");
  if (n.pid == 0) {
    // Killed if the thread that started it ends: a test process that crashed leaves none behind.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent went before prctl
    ::execv(SWITCHBOARD_REDIS_SERVER, argv.data());
    ::_exit(127);
  }
}

void RedisClusterProcess::stop(std::size_t i) {
  Node& n = nodes_.at(i);
  if (n.pid <= 0) return;
  ::kill(n.pid, SIGCONT);
  ::kill(n.pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  int status = 0;
  while (::waitpid(n.pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(n.pid, SIGKILL);
      ::waitpid(n.pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  n.pid = -1;
}

void RedisClusterProcess::kill(std::size_t i) {
  Node& n = nodes_.at(i);
  if (n.pid <= 0) return;
  ::kill(n.pid, SIGKILL);
  int status = 0;
  ::waitpid(n.pid, &status, 0);
  n.pid = -1;
}

std::size_t RedisClusterProcess::kill_master_of(int slot) {
  std::size_t master = master_of(slot);
  kill(master);
  return master;
}

void RedisClusterProcess::restart(std::size_t i) {
  start(i);
  await_answering(i, std::chrono::seconds(10));
}

std::string RedisClusterProcess::log_of(std::size_t i) const {
  std::ifstream in(nodes_.at(i).dir + "/redis.log");
  std::ostringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
}

void RedisClusterProcess::await_answering(std::size_t i, std::chrono::milliseconds deadline) const {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (cluster_query(port(i), {"PING"}) != "PONG") {
    int status = 0;
    if (::waitpid(nodes_[i].pid, &status, WNOHANG) != 0 || std::chrono::steady_clock::now() > until)
      throw std::runtime_error("redis-server " + std::to_string(i) + " (port " + std::to_string(port(i)) +
                               ") did not start: " + log_of(i));
    std::this_thread::sleep_for(kClusterPoll);
  }
}

void RedisClusterProcess::form() {
  if (options_.masters == 1) {
    if (cluster_query(port(0), {"CLUSTER", "ADDSLOTSRANGE", "0", "16383"}) != "OK")
      throw std::runtime_error("CLUSTER ADDSLOTSRANGE refused");
    return;
  }
  std::string command = "--cluster create";
  for (const auto& n : nodes_) command += " 127.0.0.1:" + std::to_string(n.port);
  command += " --cluster-replicas " + std::to_string(options_.replicas) + " --cluster-yes";
  auto [out, status] = run_redis_cli(command);
  if (status != 0 || out.find("[OK] All 16384 slots covered") == std::string::npos)
    throw std::runtime_error("redis-cli --cluster create failed: " + out);
}

void RedisClusterProcess::await_healthy(std::chrono::milliseconds deadline) const {
  auto until = std::chrono::steady_clock::now() + deadline;
  std::string why;
  for (;;) {
    why.clear();
    std::optional<std::map<std::pair<int, int>, std::uint16_t>> agreed;  // slot range → master port
    for (std::size_t i = 0; i < nodes_.size() && why.empty(); ++i) {
      if (!running(i)) continue;
      std::string node = "node " + std::to_string(i) + ": ";
      auto info = cluster_query(port(i), {"CLUSTER", "INFO"});
      if (!info) {
        why = node + "no answer";
        break;
      }
      if (cluster_info_field(*info, "cluster_state") != "ok")
        why = node + "cluster_state " + cluster_info_field(*info, "cluster_state");
      else if (cluster_info_field(*info, "cluster_known_nodes") != std::to_string(nodes_.size()))
        why = node + "knows " + cluster_info_field(*info, "cluster_known_nodes") + " nodes";
      else if (cluster_info_field(*info, "cluster_slots_ok") != "16384")
        why = node + "cluster_slots_ok " + cluster_info_field(*info, "cluster_slots_ok");
      if (!why.empty()) break;
      auto nodes = cluster_query(port(i), {"CLUSTER", "NODES"});
      if (!nodes) {
        why = node + "no CLUSTER NODES";
        break;
      }
      std::map<std::pair<int, int>, std::uint16_t> owners;
      std::set<std::uint16_t> masters;
      std::size_t replicas = 0;
      for (const auto& line : parse_cluster_nodes(*nodes)) {
        if (line.master && !line.failed)
          for (auto range : line.slots) {
            owners[range] = line.port;
            masters.insert(line.port);
          }
        if (line.replica && !line.failed) ++replicas;
      }
      std::size_t running_nodes = 0;
      for (std::size_t j = 0; j < nodes_.size(); ++j) running_nodes += running(j) ? 1 : 0;
      if (agreed && *agreed != owners)
        why = node + "sees other masters than the first node";
      else if (masters.size() + replicas != running_nodes)
        why = node + "sees " + std::to_string(masters.size()) + " masters and " + std::to_string(replicas) +
              " replicas of " + std::to_string(running_nodes) + " running nodes";
      agreed = std::move(owners);
      auto replication = cluster_query(port(i), {"INFO", "replication"});
      if (!replication)
        why = node + "no INFO replication";
      else if (cluster_info_field(*replication, "role") == "slave" &&
               cluster_info_field(*replication, "master_link_status") != "up")
        why = node + "replica's link to its master is " +
              cluster_info_field(*replication, "master_link_status");
    }
    if (why.empty()) return;
    if (std::chrono::steady_clock::now() > until)
      throw std::runtime_error("the Redis Cluster is not healthy: " + why);
    std::this_thread::sleep_for(kClusterPoll);
  }
}

std::size_t RedisClusterProcess::master_of(int slot) const {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (!running(i)) continue;
    auto nodes = cluster_query(port(i), {"CLUSTER", "NODES"});
    if (!nodes) continue;
    for (const auto& line : parse_cluster_nodes(*nodes)) {
      if (!line.master || line.failed) continue;
      for (auto [first, last] : line.slots)
        if (first <= slot && slot <= last)
          for (std::size_t j = 0; j < nodes_.size(); ++j)
            if (nodes_[j].port == line.port) return j;
    }
    break;  // the first running node that answered decides
  }
  throw std::runtime_error("no master serves slot " + std::to_string(slot));
}

std::string RedisClusterProcess::cli(std::size_t node, const std::string& args) const {
  return redis_cli(port(node), args);
}

}  // namespace switchboard::test
