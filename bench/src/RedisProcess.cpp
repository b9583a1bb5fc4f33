#include "RedisProcess.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <thread>
#include <vector>

#include "FreePort.h"
#include "RedisCommand.h"

namespace switchboard::bench {

RedisProcess::RedisProcess(std::string executable, int cpu, std::string log_path, std::uint16_t replica_of)
    : executable_(std::move(executable)), cpu_(cpu), log_path_(std::move(log_path)), replica_of_(replica_of) {}

RedisProcess::~RedisProcess() { stop(); }

void RedisProcess::start() {
  port_ = free_port();
  std::vector<std::string> args{executable_, "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                "--save",    "",       "--appendonly",        "no",     "--daemonize",
                                "no",        "--repl-diskless-sync-delay", "0"};
  // Its working directory is the log directory: a replica's sync file lands there, not in the
  // directory the benchmark was started from.
  args.insert(args.end(), {"--dir", std::filesystem::path(log_path_).parent_path().string()});
  if (!cluster_dir_.empty()) {
    const std::string config = cluster_dir_ + "/nodes-" + std::to_string(port_) + ".conf";
    std::filesystem::remove(config);
    bus_port_ = free_port();
    args.insert(args.end(), {"--cluster-enabled", "yes", "--cluster-config-file", config,
                             "--cluster-port", std::to_string(bus_port_)});
  }
  if (replica_of_ != 0) args.insert(args.end(), {"--replicaof", "127.0.0.1", std::to_string(replica_of_)});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int log = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log < 0) throw std::runtime_error("cannot write " + log_path_);
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // SIGTERM when the benchmark dies (killed, crashed) before it could stop this process.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    if (cpu_ >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(cpu_, &set);
      sched_setaffinity(0, sizeof set, &set);
    }
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    close_range(3, ~0U, 0);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(log);
  for (int i = 0; i < 200; ++i) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      stopped_ = true;
      throw std::runtime_error("redis-server exited at start, see " + log_path_);
    }
    if (answers_ping() && (replica_of_ == 0 || in_sync())) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("redis-server does not answer PING (or a replica is not in sync), see " + log_path_);
}

bool RedisProcess::in_sync() const {
  auto info = redis_command(port_, {"INFO", "replication"});
  return info && info->find("master_link_status:up") != std::string::npos;
}

bool RedisProcess::answers_ping() const { return redis_command(port_, {"PING"}) == "PONG"; }

std::string RedisProcess::stop() {
  if (pid_ <= 0 || stopped_) return "";
  stopped_ = true;
  kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 250; ++i) {
    if (waitpid(pid_, &status, WNOHANG) == pid_)
      return WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status)) : "signal";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  return "killed";
}

}  // namespace switchboard::bench
