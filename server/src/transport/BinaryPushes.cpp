#include "transport/BinaryPushes.h"

#include <string>

#include "switchboard/protocol/BinaryData.h"
#include "transport/LastPush.h"

namespace switchboard::server {

protocol::Payload binary_push(const protocol::Payload& frame) {
  // Replies and other pushes go as text, and are never cached.
  if (!is_message_push(frame)) return nullptr;
  thread_local LastPush<protocol::Payload> last;  // null when the push is text
  return last.of(frame, [](const std::string& push) { return protocol::binary_frame_of(push); });
}

}  // namespace switchboard::server
