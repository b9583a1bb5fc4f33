#include "RedisServer.h"

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "FreePort.h"
#include "RedisCli.h"

namespace switchboard::test {

RedisServer::RedisServer() : port_(free_port()) { start(); }

RedisServer::~RedisServer() { stop(); }

void RedisServer::start() {
  if (pid_ > 0) return;
  int out[2];
  if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
  std::string port = std::to_string(port_);
  pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    // Killed if the thread that started it ends: a test process that crashed leaves none behind.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent went before prctl
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::close(out[1]);
    ::execl(SWITCHBOARD_REDIS_SERVER, "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no", "--loglevel", "notice",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  // Wait for "Ready to accept connections" (or the process to die), at most 10 s.
  std::string seen;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool ready = false;
  while (!ready && std::chrono::steady_clock::now() < deadline) {
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    std::array<char, 4096> buf;
    auto n = ::read(out[0], buf.data(), buf.size());
    if (n <= 0) break;
    seen.append(buf.data(), static_cast<std::size_t>(n));
    ready = seen.find("Ready to accept connections") != std::string::npos;
  }
  output_ = out[0];  // kept open: redis-server's few later lines fit in the pipe
  if (!ready) {
    stop();
    throw std::runtime_error("redis-server did not start on port " + port + ": " + seen);
  }
}

void RedisServer::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGCONT);  // in case it was paused
  ::kill(pid_, SIGTERM);
  // Its stdout reaches EOF when it exits; after 5 s it is killed.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  bool exited = false;
  while (!exited && output_ >= 0 && std::chrono::steady_clock::now() < deadline) {
    pollfd p{output_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    std::array<char, 4096> buf;
    exited = ::read(output_, buf.data(), buf.size()) <= 0;
  }
  if (!exited) ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  if (output_ >= 0) ::close(output_);
  output_ = -1;
  pid_ = -1;
}

void RedisServer::pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void RedisServer::resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

std::string RedisServer::cli(const std::string& args) const { return redis_cli(port_, args); }

}  // namespace switchboard::test
