#include "NodeProcess.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "FreePort.h"
#include "HttpGet.h"

namespace switchboard::bench {

NodeProcess::NodeProcess(NodeSettings settings) : settings_(std::move(settings)) {}

NodeProcess::~NodeProcess() {
  if (pid_ > 0 && exit_status_.empty()) stop(std::chrono::seconds(2));
}

std::vector<std::string> NodeProcess::command_line() {
  std::vector<std::string> args = settings_.wrapper;
  if (settings_.nats) {
    // Clients on the WebSocket listener; the plain NATS port is unused but must be free.
    monitor_port_ = free_port();
    const std::string config_path = settings_.log_path + ".conf";
    std::ofstream config(config_path, std::ios::trunc);
    config << "listen: \"127.0.0.1:" << free_port() << "\"\n"
           << "http: \"127.0.0.1:" << monitor_port_ << "\"\n"
           << "websocket {\n  host: \"127.0.0.1\"\n  port: " << port_ << "\n  no_tls: true\n}\n";
    if (!config) throw std::runtime_error("cannot write " + config_path);
    args.insert(args.end(), {settings_.executable, "-c", config_path});
  } else {
    args.insert(args.end(), {settings_.executable, "--bind", "127.0.0.1", "--port", std::to_string(port_),
                             "--allow-anonymous", "--publish-rate", "0", "--request-rate", "0",
                             "--drain-delay-ms", "0", "--threads", std::to_string(settings_.threads)});
    if (!settings_.redis.empty())
      args.insert(args.end(), {settings_.redis_cluster ? "--redis-cluster" : "--redis", settings_.redis});
  }
  args.insert(args.end(), settings_.extra_args.begin(), settings_.extra_args.end());
  return args;
}

void NodeProcess::start(std::chrono::milliseconds timeout) {
  port_ = free_port();
  std::vector<std::string> args = command_line();
  const std::string gomaxprocs = std::to_string(settings_.threads);

  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int log = open(settings_.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log < 0) throw std::runtime_error("cannot write " + settings_.log_path);

  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // SIGTERM when the benchmark dies (killed, crashed) before it could stop this process.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    // A process group of its own: a wrapper (perf, strace) and the node it runs are stopped together.
    setpgid(0, 0);
    if (settings_.cpu >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(settings_.cpu, &set);
      sched_setaffinity(0, sizeof set, &set);
    }
    // nats-server's Go runtime: as many threads running Go code as the node has I/O threads.
    if (settings_.nats) setenv("GOMAXPROCS", gomaxprocs.c_str(), 1);
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, STDIN_FILENO);
    close_range(3, ~0U, 0);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(log);

  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!alive())
      throw std::runtime_error("node exited during start (" + exit_status_ + "), see " + settings_.log_path);
    if (settings_.nats ? http_get(monitor_port_, "/healthz", std::chrono::milliseconds(1000)).status == 200
                       : http_get(port_, "/readyz", std::chrono::milliseconds(1000)).status == 200)
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("node not ready within the timeout, see " + settings_.log_path);
}

void NodeProcess::reap(int status) {
  if (WIFEXITED(status))
    exit_status_ = "exit " + std::to_string(WEXITSTATUS(status));
  else if (WIFSIGNALED(status))
    exit_status_ = "signal " + std::to_string(WTERMSIG(status));
  else
    exit_status_ = "status " + std::to_string(status);
}

bool NodeProcess::alive() {
  if (pid_ <= 0 || !exit_status_.empty()) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    reap(status);
    return false;
  }
  return true;
}

std::string NodeProcess::stop(std::chrono::milliseconds grace) {
  if (stopped_) return exit_status_;
  if (!alive()) return exit_status_.empty() ? "not started" : "died before stop: " + exit_status_;
  stopped_ = true;
  kill(-pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      reap(status);
      return exit_status_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(-pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  reap(status);
  exit_status_ = "killed after SIGTERM timeout (" + exit_status_ + ")";
  return exit_status_;
}

std::map<std::string, double> NodeProcess::nats_metrics() const {
  std::map<std::string, double> values;
  auto response = http_get(monitor_port_, "/varz", std::chrono::milliseconds(5000));
  auto varz = nlohmann::json::parse(response.body, nullptr, false);
  if (!varz.is_object()) return values;
  auto get = [&](const char* key) { return varz.contains(key) ? varz[key].get<double>() : 0.0; };
  values["switchboard_deliveries_total"] = get("out_msgs");
  values["switchboard_messages_published_total"] = get("in_msgs");
  values["switchboard_slow_consumers_total"] = get("slow_consumers");
  values["switchboard_connections"] = get("connections");
  return values;
}

std::map<std::string, double> NodeProcess::metrics() const {
  if (settings_.nats) return nats_metrics();
  std::map<std::string, double> values;
  auto response = http_get(port_, "/metrics", std::chrono::milliseconds(5000));
  std::istringstream lines(response.body);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.rfind(' ');
    if (space == std::string::npos) continue;
    try {
      values[line.substr(0, space)] = std::stod(line.substr(space + 1));
    } catch (const std::exception&) {
    }
  }
  return values;
}

nlohmann::ordered_json NodeProcess::log_problems(std::size_t limit) const {
  std::ifstream log(settings_.log_path);
  nlohmann::ordered_json lines = nlohmann::ordered_json::array();
  std::size_t count = 0;
  for (std::string line; std::getline(log, line);) {
    if (settings_.nats
            ? line.find("[WRN]") == std::string::npos && line.find("[ERR]") == std::string::npos &&
                  line.find("[FTL]") == std::string::npos
            : line.find("Z warn ") == std::string::npos && line.find("Z error ") == std::string::npos)
      continue;
    // The benchmark asks for anonymous connections: that warning is expected.
    if (line.find("(--allow-anonymous)") != std::string::npos) continue;
    // And nats-server's warning about its WebSocket listener without TLS.
    if (line.find("Websocket not configured with TLS") != std::string::npos) continue;
    ++count;
    if (lines.size() < limit) lines.push_back(line);
  }
  return {{"log", settings_.log_path}, {"warnings_and_errors", count}, {"first", lines}};
}

}  // namespace switchboard::bench
