#include "WebhookReceiver.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <stdexcept>
#include <vector>

namespace switchboard::test {

WebhookReceiver::WebhookReceiver(Options options) : options_(std::move(options)) {
  int out[2];
  if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
  std::vector<std::string> args = {SWITCHBOARD_PYTHON, SWITCHBOARD_SOURCE_DIR "/tests/support/webhook_receiver.py",
                                   "--port", std::to_string(options_.port), "--secret", options_.secret};
  if (!options_.cert_path.empty()) {
    args.insert(args.end(), {"--cert", options_.cert_path, "--key", options_.key_path});
  }
  if (options_.hang) args.push_back("--hang");
  if (options_.delay_ms) {
    args.push_back("--delay-ms");
    args.push_back(std::to_string(options_.delay_ms));
  }
  if (options_.status) {
    args.push_back("--status");
    args.push_back(std::to_string(options_.status));
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // none left behind by a test process that crashed
    if (::getppid() != parent) ::_exit(127);
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::close(out[1]);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  output_ = out[0];
  std::string first;
  try {
    first = next_line(std::chrono::steady_clock::now() + std::chrono::seconds(10));
  } catch (const std::exception&) {
  }
  if (first.rfind("listening ", 0) != 0) {
    stop();
    throw std::runtime_error("the webhook receiver did not start: " + first);
  }
  port_ = static_cast<std::uint16_t>(std::stoi(first.substr(10)));
}

WebhookReceiver::~WebhookReceiver() { stop(); }

void WebhookReceiver::stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  if (output_ >= 0) ::close(output_);
  output_ = -1;
}

std::string WebhookReceiver::url(const std::string& path) const {
  return std::string(options_.cert_path.empty() ? "http" : "https") + "://127.0.0.1:" + std::to_string(port_) + path;
}

std::string WebhookReceiver::next_line(std::chrono::steady_clock::time_point until) {
  while (true) {
    auto newline = buffer_.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    pollfd p{output_, POLLIN, 0};
    // Polled at least once, even past the deadline: a deadline of 0 reads what is there already.
    if (::poll(&p, 1, static_cast<int>(std::max<long long>(0, left.count()))) <= 0) {
      if (std::chrono::steady_clock::now() >= until) throw std::runtime_error("no batch reached the webhook receiver in time");
      continue;
    }
    std::array<char, 4096> chunk;
    auto n = ::read(output_, chunk.data(), chunk.size());
    if (n <= 0) throw std::runtime_error("the webhook receiver ended");
    buffer_.append(chunk.data(), static_cast<std::size_t>(n));
  }
}

nlohmann::json WebhookReceiver::next_report(std::chrono::milliseconds deadline) {
  return nlohmann::json::parse(next_line(std::chrono::steady_clock::now() + deadline));
}

}  // namespace switchboard::test
