#pragma once
// A real redis-server for tests: started on 127.0.0.1 and a free port, with no persistence,
// and stopped (SIGTERM, then SIGKILL) when the object goes. stop() and start() again keep the
// port, to test a Redis outage.
#include <cstdint>
#include <string>
#include <sys/types.h>

namespace switchboard::test {

class RedisServer {
 public:
  RedisServer();  // starts it; throws std::runtime_error when it does not come up
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  void start();
  void stop();
  // SIGSTOP / SIGCONT: a Redis that hangs, with its connections open.
  void pause();
  void resume();
  bool running() const { return pid_ > 0; }
  std::uint16_t port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  // Runs redis-cli against it and returns what it printed (for checks such as PUBSUB NUMSUB).
  std::string cli(const std::string& args) const;

 private:
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  int output_ = -1;  // read end of its stdout: EOF when it has exited
};

}  // namespace switchboard::test
