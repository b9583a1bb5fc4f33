#include "transport/FrameReader.h"

#include <boost/beast/websocket/detail/frame.hpp>
#include <cstring>

#include "transport/PerMessageDeflate.h"

namespace switchboard::server {

bool FrameReader::start_frame() {
  const unsigned char b0 = header_[0], b1 = header_[1];
  fin_ = (b0 & 0x80) != 0;
  opcode_ = b0 & 0x0F;
  // RSV1 marks a compressed message, on its first frame only, when permessage-deflate was
  // negotiated; RSV2 and RSV3 belong to no extension the node knows.
  const unsigned char reserved = b0 & 0x70;
  const bool rsv1 = reserved == 0x40 && compressed_allowed_ && (opcode_ == 1 || opcode_ == 2);
  if (reserved != 0 && !rsv1) return refuse(close_code::protocol_error, "reserved bits set");
  std::uint64_t size = b1 & 0x7F;
  std::size_t at = 2;
  if (size == 126) {
    size = (std::uint64_t{header_[2]} << 8) | header_[3];
    at = 4;
  } else if (size == 127) {
    size = 0;
    for (int i = 0; i < 8; ++i) size = (size << 8) | header_[2 + i];
    at = 10;
    if (size >> 63) return refuse(close_code::protocol_error, "bad frame length");
  }
  for (int i = 0; i < 4; ++i) mask_[i] = header_[at + i];
  mask_at_ = 0;
  switch (opcode_) {
    case 0:  // a continuation
      if (message_opcode_ == kNone) return refuse(close_code::protocol_error, "a continuation without a message");
      break;
    case 1:
    case 2:
      if (message_opcode_ != kNone) return refuse(close_code::protocol_error, "a new message before the last one ended");
      message_opcode_ = opcode_;
      message_compressed_ = rsv1;
      if (opcode_ == 1 && !rsv1) utf8_.reset();
      break;
    case 8:
    case 9:
    case 10:
      if (!fin_) return refuse(close_code::protocol_error, "a fragmented control frame");
      if (size > 125) return refuse(close_code::protocol_error, "a control frame longer than 125 bytes");
      break;
    default:
      return refuse(close_code::protocol_error, "an unknown opcode");
  }
  if (opcode_ < 8) {
    if (size > max_message_size_ - message_size_) return refuse(close_code::too_big, "message too big");
    message_size_ += static_cast<std::size_t>(size);
  }
  frame_size_ = remaining_ = size;
  in_payload_ = true;
  return true;
}

void FrameReader::unmask(char* data, std::size_t size) {
  auto* p = reinterpret_cast<unsigned char*>(data);
  std::size_t i = 0;
  // Byte by byte up to a word of mask, then the mask turned to start where it stands, a word at a time.
  while (i < size && mask_at_ != 0) {
    p[i++] ^= mask_[mask_at_];
    mask_at_ = static_cast<std::uint8_t>((mask_at_ + 1) & 3);
  }
  std::uint32_t word;
  std::memcpy(&word, mask_, 4);
  for (; i + 4 <= size; i += 4) {
    std::uint32_t chunk;
    std::memcpy(&chunk, p + i, 4);
    chunk ^= word;
    std::memcpy(p + i, &chunk, 4);
  }
  for (; i < size; ++i) {
    p[i] ^= mask_[mask_at_];
    mask_at_ = static_cast<std::uint8_t>((mask_at_ + 1) & 3);
  }
}

bool FrameReader::inflate(std::string_view& payload, Status& status) {
  switch (inflate_message(payload, max_message_size_, payload)) {
    case InflateResult::ok:
      break;
    case InflateResult::too_big:
      status = fail(close_code::too_big, "message too big");
      return false;
    case InflateResult::invalid:
      status = fail(close_code::invalid_payload, "not a valid compressed message");
      return false;
  }
  if (message_opcode_ == 1 && !boost::beast::websocket::detail::check_utf8(payload.data(), payload.size())) {
    status = fail(close_code::invalid_payload, "text frames must be UTF-8");
    return false;
  }
  return true;
}

bool FrameReader::read_close(std::string_view payload, Frame& frame, Status& status) {
  if (payload.empty()) {
    frame.close_code = 1005;  // no status
    return true;
  }
  if (payload.size() == 1) {
    status = fail(close_code::protocol_error, "a close frame of one byte");
    return false;
  }
  frame.close_code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                                static_cast<unsigned char>(payload[1]));
  if (!boost::beast::websocket::detail::is_valid_close_code(frame.close_code)) {
    status = fail(close_code::protocol_error, "an invalid close code");
    return false;
  }
  frame.payload = payload.substr(2);
  if (!boost::beast::websocket::detail::check_utf8(frame.payload.data(), frame.payload.size())) {
    status = fail(close_code::invalid_payload, "a close reason must be UTF-8");
    return false;
  }
  return true;
}

}  // namespace switchboard::server
