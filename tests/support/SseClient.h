#pragma once
// Test-side Server-Sent Events client: one GET on 127.0.0.1 over plain TCP, read as the stream
// goes (chunked or until the connection ends). Every read has a deadline and throws
// std::runtime_error saying what it waited for when it passes. Plain POSIX sockets: no Beast,
// so that it builds in a moment.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace switchboard::test {

struct SseEvent {
  std::optional<std::string> id;  // the event's "id:" field, when it had one
  std::string data;               // its "data:" lines joined with '\n'
  bool comment = false;           // a comment (": …"), e.g. a keep-alive, with no data
};

struct SseClientOptions {
  std::map<std::string, std::string> headers;  // e.g. Authorization, Last-Event-ID
  bool http10 = false;                         // an HTTP/1.0 request (no chunked answer)
  int rcvbuf = 0;                              // if > 0: SO_RCVBUF before connect (slow readers)
  std::chrono::milliseconds deadline{5000};    // per read
};

class SseClient {
 public:
  using Options = SseClientOptions;

  // Connects, sends GET `target` and reads the response head (or, for an answer other than
  // 200, the whole response).
  SseClient(std::uint16_t port, const std::string& target, Options options = {});
  ~SseClient();
  SseClient(const SseClient&) = delete;
  SseClient& operator=(const SseClient&) = delete;

  int status() const { return status_; }
  // Header value by lowercase name, "" when absent.
  std::string header(const std::string& name) const;
  // The body of an answer other than 200.
  const std::string& body() const { return body_; }

  // The next event or comment.
  SseEvent next();
  // The next event with data (comments skipped), its data parsed as JSON.
  nlohmann::json next_json();
  // Reads until the server ends the stream; true when it ended it cleanly (the last chunk, or
  // the end of a close-delimited body), false when the connection was cut. Events before are
  // dropped.
  bool read_until_end();
  // Whether no event (nor comment) arrives within `wait`. One that does is kept for next().
  bool quiet_for(std::chrono::milliseconds wait);
  // Closes the connection.
  void drop();

 private:
  // Appends more decoded body bytes to text_; false at the end of the body.
  bool fill(std::chrono::steady_clock::time_point until, const char* what);
  // Raw bytes from the socket into raw_; false at EOF.
  bool read_raw(std::chrono::steady_clock::time_point until, const char* what);
  std::optional<SseEvent> take_event();

  int fd_ = -1;
  Options options_;
  int status_ = 0;
  std::map<std::string, std::string> headers_;
  std::string body_;
  bool chunked_ = false;
  bool ended_ = false;   // the body ended (last chunk, or EOF of a close-delimited body)
  bool clean_ = false;   // … cleanly
  std::string raw_;      // bytes read, not yet decoded
  std::string text_;     // decoded body, not yet parsed into events
  std::size_t chunk_left_ = 0;  // data bytes left in the current chunk
  bool need_crlf_ = false;      // the current chunk's data is read; its CRLF is next
};

}  // namespace switchboard::test
