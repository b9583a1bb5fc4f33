#pragma once
// Compression of WebSocket messages (permessage-deflate, RFC 7692) without a compressor per
// connection: both ends agree to "no context takeover", so every message is compressed on its
// own, and a thread's one compressor and one decompressor serve all of its connections.
//
// A message push is compressed once per message and I/O thread, not once per subscriber: a
// fan-out hands the same shared frame to the thread's subscribers in a row, and the thread keeps
// the last frame it compressed (LastPush.h, as for binary frames). A connection holds
// nothing for compression but the flag that it was negotiated.
#include <cstddef>
#include <string_view>

#include "switchboard/protocol/Payload.h"

namespace switchboard::server {

// What the node answers in Sec-WebSocket-Extensions when it takes a client's offer: neither end
// keeps its window from one message to the next (RFC 7692, 7.1.1: a server may ask both).
inline constexpr std::string_view kDeflateResponse =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

// True when a request's Sec-WebSocket-Extensions offers permessage-deflate in a form the node
// takes: any offer of it with valid parameters, unless it limits the node's window below 15 bits
// (server_max_window_bits=8..14) — that offer is declined, and the next one considered.
bool deflate_offered(std::string_view extensions);

// A frame compressed for a connection that negotiated permessage-deflate.
struct Deflated {
  protocol::Payload frame;  // null: not worth it (compressed, it would not be smaller)
  std::size_t saved = 0;    // bytes it saves on the wire
};

// `frame` compressed (a raw deflate stream flushed to a byte boundary, its last four bytes — the
// empty block's 00 00 FF FF — left out, as RFC 7692 7.2.1 has it). A message push is compressed
// once per thread and kept for its next subscribers; any other frame (a reply) is compressed each
// time. On the calling thread's own compressor: thread-safe.
Deflated deflate_frame(const protocol::Payload& frame);

// Decompressing a message a client sent compressed.
enum class InflateResult : unsigned char {
  ok,
  too_big,  // it would inflate past `max` bytes
  invalid,  // not a valid deflate stream
};
// Inflates `compressed` (the message's payload, all frames together) into the calling thread's
// buffer; `out` views it until the thread's next call.
InflateResult inflate_message(std::string_view compressed, std::size_t max, std::string_view& out);

}  // namespace switchboard::server
