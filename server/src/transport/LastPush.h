#pragma once
// What a WebSocket sends for a message push in place of its text — its binary frame
// (BinaryPushes.h), its compressed copy (PerMessageDeflate.h) — is made once per message and I/O
// thread: a fan-out hands the same shared push to every subscriber of a thread in a row, so a
// thread keeps what it made for the last push it saw, for the next subscriber.
//
// One per thread and per kind of derived frame (thread_local): no lock.
#include <string>

#include "switchboard/protocol/Payload.h"

namespace switchboard::server {

// True for a message push (text or binary frame): they begin so, replies and other pushes do not.
inline bool is_message_push(const protocol::Payload& frame) { return frame->starts_with(R"({"type":"message",)"); }

template <class Value>
class LastPush {
 public:
  // make(text) for the push `frame`, or what it made when `frame` was the last push asked for.
  template <class Make>
  const Value& of(const protocol::Payload& frame, Make&& make) {
    if (frame != push_) {
      value_ = make(*frame);
      push_ = frame;
    }
    return value_;
  }

 private:
  // Held, not just its address: a freed push's address may come back as another's.
  protocol::Payload push_;
  Value value_{};
};

}  // namespace switchboard::server
