#include "SseClient.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace switchboard::test {

namespace {
using Clock = std::chrono::steady_clock;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}
}  // namespace

SseClient::SseClient(std::uint16_t port, const std::string& target, Options options) : options_(std::move(options)) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("SseClient: socket: " + std::string(std::strerror(errno)));
  if (options_.rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &options_.rcvbuf, sizeof options_.rcvbuf);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw std::runtime_error("SseClient: connect: " + std::string(std::strerror(errno)));
  std::string request = "GET " + target + (options_.http10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
  std::map<std::string, std::string> headers{{"Host", "127.0.0.1:" + std::to_string(port)},
                                             {"Accept", "text/event-stream"}};
  for (const auto& [name, value] : options_.headers) headers[name] = value;
  for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
  request += "\r\n";
  for (std::size_t sent = 0; sent < request.size();) {
    auto n = ::send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error("SseClient: send: " + std::string(std::strerror(errno)));
    sent += static_cast<std::size_t>(n);
  }
  auto until = Clock::now() + options_.deadline;
  std::size_t end;
  while ((end = raw_.find("\r\n\r\n")) == std::string::npos)
    if (!read_raw(until, "the response head")) throw std::runtime_error("SseClient: closed before the response head");
  std::string head = raw_.substr(0, end);
  raw_.erase(0, end + 4);
  auto line_end = head.find("\r\n");
  std::string status_line = head.substr(0, line_end);
  if (status_line.size() < 12) throw std::runtime_error("SseClient: bad status line: " + status_line);
  status_ = std::stoi(status_line.substr(9, 3));
  std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    auto next = head.find("\r\n", pos);
    if (next == std::string::npos) next = head.size();
    std::string line = head.substr(pos, next - pos);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      headers_[lower(line.substr(0, colon))] = value;
    }
    pos = next + 2;
  }
  chunked_ = lower(header("transfer-encoding")) == "chunked";
  if (status_ != 200) {
    // An error answer: read it whole (it has a Content-Length or ends with the connection).
    std::size_t length = header("content-length").empty() ? std::string::npos : std::stoul(header("content-length"));
    while (raw_.size() < length && read_raw(until, "the error body")) {
    }
    body_ = raw_.substr(0, std::min(length, raw_.size()));
  }
}

SseClient::~SseClient() { drop(); }

void SseClient::drop() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::string SseClient::header(const std::string& name) const {
  auto it = headers_.find(lower(name));
  return it == headers_.end() ? std::string() : it->second;
}

bool SseClient::read_raw(Clock::time_point until, const char* what) {
  if (fd_ < 0) throw std::runtime_error(std::string("SseClient: dropped, waiting for ") + what);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    if (left <= 0) throw std::runtime_error(std::string("SseClient: timed out waiting for ") + what);
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) continue;  // the deadline check above throws
    char buf[16 * 1024];
    auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == ECONNRESET || errno == EPIPE)) return false;
    if (n < 0) throw std::runtime_error("SseClient: recv: " + std::string(std::strerror(errno)));
    if (n == 0) return false;
    raw_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
}

bool SseClient::fill(Clock::time_point until, const char* what) {
  if (ended_) return false;
  for (;;) {
    if (!chunked_) {
      if (!raw_.empty()) {
        text_ += raw_;
        raw_.clear();
        return true;
      }
      if (!read_raw(until, what)) {
        ended_ = clean_ = true;  // a close-delimited body ends with the connection
        return false;
      }
      continue;
    }
    if (need_crlf_) {
      // The CRLF that ends a chunk's data.
      if (raw_.size() >= 2) {
        if (raw_.compare(0, 2, "\r\n") != 0) throw std::runtime_error("SseClient: bad chunk end");
        raw_.erase(0, 2);
        need_crlf_ = false;
        continue;
      }
    } else if (chunk_left_ > 0) {
      if (!raw_.empty()) {
        std::size_t n = std::min(chunk_left_, raw_.size());
        text_.append(raw_, 0, n);
        raw_.erase(0, n);
        chunk_left_ -= n;
        need_crlf_ = chunk_left_ == 0;
        return true;
      }
    } else if (auto eol = raw_.find("\r\n"); eol != std::string::npos) {
      std::size_t size = std::stoul(raw_.substr(0, eol), nullptr, 16);
      raw_.erase(0, eol + 2);
      if (size == 0) {
        ended_ = clean_ = true;
        return false;
      }
      chunk_left_ = size;
      continue;
    }
    if (!read_raw(until, what)) {
      ended_ = true;  // cut in the middle of the body
      return false;
    }
  }
}

std::optional<SseEvent> SseClient::take_event() {
  for (;;) {
    auto end = text_.find("\n\n");
    if (end == std::string::npos) return std::nullopt;
    std::string block = text_.substr(0, end);
    text_.erase(0, end + 2);
    SseEvent event;
    bool has_data = false;
    std::size_t pos = 0;
    while (pos <= block.size()) {
      auto eol = block.find('\n', pos);
      if (eol == std::string::npos) eol = block.size();
      std::string line = block.substr(pos, eol - pos);
      pos = eol + 1;
      if (line.empty()) continue;
      if (line[0] == ':') {
        event.comment = true;
        continue;
      }
      auto colon = line.find(':');
      std::string field = line.substr(0, colon);
      std::string value = colon == std::string::npos ? std::string() : line.substr(colon + 1);
      if (!value.empty() && value[0] == ' ') value.erase(0, 1);
      if (field == "data") {
        if (has_data) event.data += '\n';
        event.data += value;
        has_data = true;
      } else if (field == "id") {
        event.id = value;
      }
    }
    if (has_data) event.comment = false;
    if (has_data || event.comment || event.id) return event;
  }
}

SseEvent SseClient::next() {
  auto until = Clock::now() + options_.deadline;
  for (;;) {
    if (auto event = take_event()) return *event;
    if (!fill(until, "an event")) throw std::runtime_error("SseClient: the stream ended while waiting for an event");
  }
}

nlohmann::json SseClient::next_json() {
  for (;;) {
    auto event = next();
    if (!event.comment) return nlohmann::json::parse(event.data);
  }
}

bool SseClient::read_until_end() {
  auto until = Clock::now() + options_.deadline;
  while (fill(until, "the end of the stream")) {
  }
  text_.clear();
  return clean_;
}

bool SseClient::quiet_for(std::chrono::milliseconds wait) {
  if (text_.find("\n\n") != std::string::npos) return false;
  try {
    auto until = Clock::now() + wait;
    while (fill(until, "silence"))
      if (text_.find("\n\n") != std::string::npos) return false;
  } catch (const std::runtime_error&) {
    return true;  // the wait passed
  }
  return true;
}

}  // namespace switchboard::test
