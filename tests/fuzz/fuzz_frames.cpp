// Any bytes a client sends on a WebSocket after the handshake go through FrameReader, in any
// pieces, with permessage-deflate negotiated or not: none may crash, leak, hit undefined
// behaviour or hold more than a message's worth of memory, and what it hands on keeps the rules —
// no message over the limit (as sent or inflated), text only as UTF-8, control frames of at most
// 125 bytes. What it hands on compresses and inflates back to itself (the node's compressor).
//
// The input's first byte chooses: bit 0, compression negotiated; bit 1, the message size limit
// (1 KiB or 64 KiB); bits 2-4, the size of the pieces the rest arrives in.
#include <boost/beast/websocket/detail/utf8_checker.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "switchboard/protocol/Payload.h"
#include "transport/FrameReader.h"
#include "transport/PerMessageDeflate.h"

namespace sb = switchboard::server;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t choice = data[0];
  const std::size_t max = (choice & 2) ? 64 * 1024 : 1024;
  static constexpr std::size_t kPieces[8] = {1, 2, 3, 7, 64, 1000, 4096, 1 << 20};
  const std::size_t piece = kPieces[(choice >> 2) & 7];
  sb::FrameReader reader(max);
  if (choice & 1) reader.accept_compressed();
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);  // the reader unmasks in place
  auto check = [&](const sb::FrameReader::Frame& frame) {
    using Kind = sb::FrameReader::Kind;
    if (frame.kind == Kind::text || frame.kind == Kind::binary) {
      if (frame.payload.size() > max) std::abort();
      if (frame.compressed && !(choice & 1)) std::abort();
      if (frame.kind == Kind::text && !frame.payload.empty() &&  // (Beast's checker takes no null pointer)
          !boost::beast::websocket::detail::check_utf8(frame.payload.data(), frame.payload.size()))
        std::abort();
      const auto deflated = sb::deflate_frame(switchboard::protocol::make_payload(std::string(frame.payload)));
      if (deflated.frame) {
        std::string_view back;
        if (sb::inflate_message(*deflated.frame, max, back) != sb::InflateResult::ok || back != frame.payload)
          std::abort();
      }
    } else if (frame.payload.size() > 125) {
      std::abort();
    }
    return true;
  };
  auto status = sb::FrameReader::Status::more;
  for (std::size_t at = 0; at < bytes.size() && status == sb::FrameReader::Status::more; at += piece) {
    const std::size_t n = std::min(piece, bytes.size() - at);
    status = reader.consume(bytes.data() + at, n, check);
    if (reader.held() > max + 2 * 128) std::abort();
  }
  if (status == sb::FrameReader::Status::failed) {
    const auto code = reader.failure().code;
    if (code != 1002 && code != 1007 && code != 1009) std::abort();
  }
  return 0;
}
