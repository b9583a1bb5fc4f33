// The NATS text protocol as the load generator speaks it over nats-server's WebSocket listener
// (--broker nats): the commands it sends, and a parser of what the server sends. Over WebSocket
// the server's protocol is a byte stream cut into frames anywhere: a frame may hold several
// protocol lines, and a line or a message's payload may run on into the next frame. So each
// connection keeps what a frame left unfinished, and every whole line or message is handled as
// soon as it is complete.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace switchboard::bench {

class NatsStream {
 public:
  enum class Kind { info, ping, pong, msg, ok, err, other };
  struct Event {
    Kind kind = Kind::other;
    std::string_view line;     // the protocol line, without its CRLF
    std::string_view subject;  // MSG only
    std::string_view payload;  // MSG only
  };

  // Handles every whole line or message of `rest` + `data`, in order, with `handle(const Event&)`;
  // what is left unfinished goes back into `rest`. The views die when `handle` returns. Returns
  // false (and stops) when `handle` does, or on a line too long to be the server's.
  template <class Handler>
  static bool feed(std::string& rest, std::string_view data, Handler&& handle) {
    if (rest.empty()) return parse(rest, data, handle);
    std::string joined = std::move(rest);
    rest.clear();
    joined.append(data);
    return parse(rest, joined, handle);
  }

  // CONNECT {"verbose":false,"pedantic":false,"protocol":1}: no +OK per command.
  static std::string connect_command();
  // SUB <subject> <sid>
  static std::string sub_command(std::string_view subject, std::string_view sid);
  // PUB <subject> <n>, the payload, then PING: the server's PONG is the publish's acknowledgement
  // (NATS has none of its own), sent once the server has handled the PUB.
  static std::string pub_command(std::string_view subject, std::string_view payload);

 private:
  template <class Handler>
  static bool parse(std::string& rest, std::string_view data, Handler& handle) {
    while (!data.empty()) {
      auto eol = data.find("\r\n");
      if (eol == std::string_view::npos) {
        if (data.size() > kMaxLine) return false;
        rest.assign(data);
        return true;
      }
      Event e;
      e.line = data.substr(0, eol);
      std::size_t used = eol + 2;
      e.kind = kind_of(e.line);
      if (e.kind == Kind::msg) {
        std::size_t bytes = 0;
        if (!parse_msg_line(e.line, e.subject, bytes)) return false;
        if (data.size() < used + bytes + 2) {  // the payload (and its CRLF) is still coming
          rest.assign(data);
          return true;
        }
        e.payload = data.substr(used, bytes);
        used += bytes + 2;
      }
      if (!handle(e)) return false;
      data.remove_prefix(used);
    }
    return true;
  }

  static Kind kind_of(std::string_view line);
  // MSG <subject> <sid> [reply-to] <#bytes>
  static bool parse_msg_line(std::string_view line, std::string_view& subject, std::size_t& bytes);

  static constexpr std::size_t kMaxLine = 64 * 1024;  // INFO is the longest line the server sends
};

}  // namespace switchboard::bench
