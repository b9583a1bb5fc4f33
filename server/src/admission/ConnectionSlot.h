#pragma once
// A place among the node's connections (--max-connections), taken at admission by a WebSocket
// handshake or an SSE stream and held by its session: given back when the slot is destroyed,
// with the session that owns it. Move-only. The count is shared with the node's SessionContext,
// so that a session destroyed after it (with its event loop) still gives its place back.
#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>

namespace switchboard::server {

class ConnectionSlot {
 public:
  using Count = std::atomic<std::size_t>;

  // A place when fewer than `max` are taken (counted at once, thread-safe); nullopt when full.
  static std::optional<ConnectionSlot> take(const std::shared_ptr<Count>& count, std::size_t max) {
    if (count->fetch_add(1) >= max) {
      --*count;
      return std::nullopt;
    }
    return ConnectionSlot(count);
  }

  ConnectionSlot(ConnectionSlot&& other) noexcept = default;
  ConnectionSlot& operator=(ConnectionSlot&& other) noexcept {
    release();
    count_ = std::move(other.count_);
    return *this;
  }
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;
  ~ConnectionSlot() { release(); }

 private:
  explicit ConnectionSlot(std::shared_ptr<Count> count) : count_(std::move(count)) {}
  void release() {
    if (count_) --*count_;
    count_.reset();
  }

  std::shared_ptr<Count> count_;  // null once moved from
};

}  // namespace switchboard::server
