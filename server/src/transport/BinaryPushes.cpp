#include "transport/BinaryPushes.h"

#include <string_view>

#include "switchboard/protocol/BinaryData.h"

namespace switchboard::server {

protocol::Payload binary_push(const protocol::Payload& frame) {
  // Replies and other pushes are told apart by their first bytes, and never cached.
  if (!frame->starts_with(R"({"type":"message",)")) return nullptr;
  // The last message this thread looked at, and its binary frame (null when it is text). Held, not
  // just its address: a freed message's address may come back as another's.
  thread_local protocol::Payload last_message;
  thread_local protocol::Payload last_binary;
  if (frame != last_message) {
    last_binary = protocol::binary_frame_of(*frame);
    last_message = frame;
  }
  return last_binary;
}

}  // namespace switchboard::server
