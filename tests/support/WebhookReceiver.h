#pragma once
// The application's backend for the tests: tests/support/webhook_receiver.py in a process of its
// own, which checks each request's signature with Python's hmac module and reports every one: the
// webhooks' batches, and the proxy's calls (/proxy/subscribe, /proxy/publish), which it answers
// as that script describes.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace switchboard::test {

class WebhookReceiver {
 public:
  struct Options {
    std::uint16_t port = 0;  // 0: a free one
    std::string secret;      // the HMAC key it verifies with
    std::string cert_path;   // with key_path: https
    std::string key_path;
    bool hang = false;       // reads and reports each batch, never answers
    int status = 0;          // answers every batch with this status (0: 204, or 401 to a bad signature)
    int delay_ms = 0;        // answers each batch this long after reporting it (a slow backend)
  };
  // Starts it and waits until it listens. Throws std::runtime_error when it does not.
  explicit WebhookReceiver(Options options);
  ~WebhookReceiver();
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(const std::string& path = "/hook") const;
  // The next request received: {"verified", "why", "path", "peer_port", and "events" (a batch) or
  // "request" (a proxy call)}. Throws after `deadline` (0: unless one was reported already; the
  // receiver reports a request before it answers).
  nlohmann::json next_report(std::chrono::milliseconds deadline = std::chrono::seconds(10));

 private:
  void stop();
  std::string next_line(std::chrono::steady_clock::time_point until);

  Options options_;
  pid_t pid_ = -1;
  int output_ = -1;
  std::string buffer_;
  std::uint16_t port_ = 0;
};

}  // namespace switchboard::test
