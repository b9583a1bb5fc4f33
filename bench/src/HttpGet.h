// A blocking HTTP/1.1 GET to 127.0.0.1, for readiness checks and /metrics.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace switchboard::bench {

struct HttpResponse {
  int status = 0;  // 0: no answer (refused, timed out)
  std::string body;
};

HttpResponse http_get(std::uint16_t port, const std::string& target,
                      std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

}  // namespace switchboard::bench
