#pragma once
// A message of binary data goes to a WebSocket as a binary frame (protocol/BinaryData.h), made
// once per message and I/O thread (LastPush.h).
#include "switchboard/protocol/Payload.h"

namespace switchboard::server {

// The binary frame a WebSocket sends for `frame` when it is a message push of binary data; null
// for any other frame (which goes as text). On the calling thread's own cache: thread-safe.
protocol::Payload binary_push(const protocol::Payload& frame);

}  // namespace switchboard::server
