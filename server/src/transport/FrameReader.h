#pragma once
// The frames a client sends on a WebSocket (RFC 6455, section 5), read from bytes as they arrive
// in whatever pieces the socket gives them: headers, masks, fragments, control frames between
// them, the message size limit and the UTF-8 of text.
//
// It keeps no buffer of its own between messages: a frame that arrives whole in one read is
// unmasked in place in the caller's bytes (a scratch buffer, shared by the connections of a
// thread) and handed on from there; only a message that spans reads or fragments is gathered,
// and its memory is given back once it is handed on. An idle connection's reader is a few dozen
// bytes.
//
// With permessage-deflate negotiated (PerMessageDeflate.h), a message whose first frame has RSV1
// set is inflated, whole, once complete — into its thread's buffer — and its UTF-8 checked then.
//
// Used on one connection's thread only.
#include <boost/beast/websocket/detail/utf8_checker.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "switchboard/protocol/CloseCode.h"

namespace switchboard::server {

namespace close_code = protocol::close_code;

class FrameReader {
 public:
  enum class Kind : std::uint8_t { text, binary, ping, pong, close };

  // A complete message or control frame. Its payload lives until the handler returns.
  struct Frame {
    Kind kind;
    std::string_view payload;  // a close frame's: its reason (code below)
    std::uint16_t close_code = 0;  // a close frame's code; 1005 (no status) when it carried none
    bool compressed = false;  // a message that came compressed (its payload is inflated)
  };

  // How reading stopped.
  enum class Status : std::uint8_t {
    more,     // everything was read: more bytes are welcome
    stopped,  // the handler asked to stop (the rest of the bytes were not read)
    failed,   // the client broke the protocol: failure() says how; nothing more may be read
  };

  // Why the client is closed: the close code (1002 protocol error, 1007 invalid payload, 1009 too
  // big) and a reason for the close frame.
  struct Failure {
    std::uint16_t code = 0;
    const char* reason = "";
  };

  explicit FrameReader(std::size_t max_message_size) : max_message_size_(max_message_size) {}

  // Reads `size` bytes at `data`, which it may change (frames are unmasked in place), calling
  // `handler(const Frame&) -> bool` for each message and control frame completed; the handler
  // returns false to stop reading.
  template <class Handler>
  Status consume(char* data, std::size_t size, Handler&& handler);

  // permessage-deflate was negotiated: messages may come compressed.
  void accept_compressed() { compressed_allowed_ = true; }
  bool accepts_compressed() const { return compressed_allowed_; }

  const Failure& failure() const { return failure_; }
  // Bytes of memory held (beyond the reader itself) for a message or frame not complete yet.
  std::size_t held() const { return heap_of(message_) + heap_of(control_); }

 private:
  static constexpr std::uint8_t kNone = 0xFF;  // no message under way

  Status fail(std::uint16_t code, const char* reason) {
    failure_ = {code, reason};
    failed_ = true;
    return Status::failed;
  }
  bool refuse(std::uint16_t code, const char* reason) {
    fail(code, reason);
    return false;
  }
  // The header in header_ is complete: checks it and starts its frame.
  bool start_frame();
  // Unmasks `size` bytes of the frame under way in place.
  void unmask(char* data, std::size_t size);
  // The frame under way is complete; `whole` is its payload when it arrived in one piece (else it
  // was gathered). Calls the handler for what it completed.
  template <class Handler>
  bool finish_frame(std::string_view whole, bool in_one_piece, Handler& handler, Status& status);
  // Inflates the compressed message in `payload`, which then views it, and checks its UTF-8 when
  // it is text; false (with a failure) when it is not valid or too big.
  bool inflate(std::string_view& payload, Status& status);
  // The close frame's code and reason; false (with a failure) when they are not valid.
  bool read_close(std::string_view payload, Frame& frame, Status& status);
  void release_message() { std::string().swap(message_); }
  static std::size_t heap_of(const std::string& s) {
    return s.capacity() > std::string().capacity() ? s.capacity() + 1 : 0;
  }

  std::size_t max_message_size_;
  // The frame under way: its header, gathered until complete, then its payload's progress.
  unsigned char header_[14] = {};
  std::uint8_t header_size_ = 0;
  std::uint8_t header_needed_ = 2;
  bool in_payload_ = false;
  bool fin_ = false;
  std::uint8_t opcode_ = 0;
  std::uint8_t mask_[4] = {};
  std::uint8_t mask_at_ = 0;
  std::uint64_t remaining_ = 0;  // payload bytes of the frame under way not read yet
  std::uint64_t frame_size_ = 0;
  // The data message under way: its opcode (kNone when none), what its frames brought so far.
  std::uint8_t message_opcode_ = kNone;
  std::string message_;
  std::size_t message_size_ = 0;  // its bytes so far, gathered or not
  bool message_compressed_ = false;  // its first frame had RSV1: it is inflated once complete
  bool compressed_allowed_ = false;
  boost::beast::websocket::detail::utf8_checker utf8_;
  std::string control_;  // a control frame's payload that spans reads (at most 125 bytes)
  bool failed_ = false;
  Failure failure_;
};

template <class Handler>
FrameReader::Status FrameReader::consume(char* data, std::size_t size, Handler&& handler) {
  if (failed_) return Status::failed;
  Status status = Status::more;
  while (size > 0) {
    if (!in_payload_) {
      // The header: two bytes, then the length's extension and the mask key they announce.
      while (header_size_ < header_needed_ && size > 0) {
        header_[header_size_++] = static_cast<unsigned char>(*data++);
        --size;
        if (header_size_ == 2) {
          // Unmasked, it has no key to wait for: refused at once.
          if ((header_[1] & 0x80) == 0) return fail(close_code::protocol_error, "client frames must be masked");
          const unsigned char len = header_[1] & 0x7F;
          header_needed_ = static_cast<std::uint8_t>(2 + (len == 126 ? 2 : len == 127 ? 8 : 0) + 4);
        }
      }
      if (header_size_ < header_needed_) return Status::more;
      if (!start_frame()) return Status::failed;
      if (remaining_ > 0) continue;
      if (!finish_frame({}, true, handler, status)) return status;
      continue;
    }
    // The payload: in place when the whole frame is here, else gathered.
    const std::size_t take = remaining_ < size ? static_cast<std::size_t>(remaining_) : size;
    unmask(data, take);
    const bool whole = take == frame_size_;
    const bool control = opcode_ >= 8;
    if (!whole) {
      if (control) control_.append(data, take);
      else message_.append(data, take);
    } else if (!control && (!fin_ || !message_.empty())) {
      message_.append(data, take);  // a fragment of a longer message
    }
    std::string_view piece(data, take);
    data += take;
    size -= take;
    remaining_ -= take;
    if (!control && message_opcode_ == 1 && !message_compressed_ && !utf8_.write(reinterpret_cast<const std::uint8_t*>(piece.data()), piece.size()))
      return fail(close_code::invalid_payload, "text frames must be UTF-8");
    if (remaining_ > 0) return Status::more;
    if (!finish_frame(piece, whole, handler, status)) return status;
  }
  return status;
}

template <class Handler>
bool FrameReader::finish_frame(std::string_view whole, bool in_one_piece, Handler& handler, Status& status) {
  in_payload_ = false;
  header_size_ = 0;
  header_needed_ = 2;
  Frame frame{};
  if (opcode_ >= 8) {
    std::string_view payload = in_one_piece ? whole : std::string_view(control_);
    frame.payload = payload;
    if (opcode_ == 8) {
      frame.kind = Kind::close;
      if (!read_close(payload, frame, status)) return false;
    } else {
      frame.kind = opcode_ == 9 ? Kind::ping : Kind::pong;
    }
    const bool go_on = handler(static_cast<const Frame&>(frame));
    control_.clear();
    if (!go_on) {
      status = Status::stopped;
      return false;
    }
    return true;
  }
  if (!fin_) return true;  // more fragments follow
  const bool text = message_opcode_ == 1;
  if (text && !message_compressed_ && !utf8_.finish()) {
    status = fail(close_code::invalid_payload, "text frames must be UTF-8");
    return false;
  }
  frame.kind = text ? Kind::text : Kind::binary;
  frame.payload = message_.empty() ? whole : std::string_view(message_);
  frame.compressed = message_compressed_;
  if (message_compressed_ && !inflate(frame.payload, status)) return false;
  message_opcode_ = kNone;
  message_size_ = 0;
  const bool go_on = handler(static_cast<const Frame&>(frame));
  release_message();
  if (!go_on) {
    status = Status::stopped;
    return false;
  }
  return true;
}

}  // namespace switchboard::server
