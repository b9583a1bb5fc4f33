#pragma once
// The layer under a client WebSocket's Beast stream. Reads pass through. Writes are taken whole
// and one at a time, in the order asked, whoever asks: Beast (the handshake answer, pings, pongs,
// the close frame) or the session, which frames its messages itself and writes everything queued
// in one gather write — something Beast's one-message-per-write API cannot do. Without this, a
// pong Beast writes on its own could land in the middle of the session's write.
//
// Every operation runs on the stream's strand (the session's), so there is no lock.
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <boost/core/span.hpp>
#include <list>
#include <optional>
#include <utility>
#include <vector>

namespace switchboard::server {

template <class Stream>
class OrderedWriteStream {
 public:
  using executor_type = typename Stream::executor_type;
  using next_layer_type = Stream;
  using WriteHandler = boost::asio::any_completion_handler<void(boost::beast::error_code, std::size_t)>;

  explicit OrderedWriteStream(Stream&& stream) : stream_(std::move(stream)) {}

  executor_type get_executor() noexcept { return stream_.get_executor(); }
  Stream& next_layer() noexcept { return stream_; }
  const Stream& next_layer() const noexcept { return stream_; }

  template <class MutableBufferSequence, class ReadToken>
  auto async_read_some(const MutableBufferSequence& buffers, ReadToken&& token) {
    return stream_.async_read_some(buffers, std::forward<ReadToken>(token));
  }

  // Writes all of `buffers` (never fewer bytes: a valid write_some), after the writes asked before.
  template <class ConstBufferSequence, class WriteToken>
  auto async_write_some(const ConstBufferSequence& buffers, WriteToken&& token) {
    return boost::asio::async_initiate<WriteToken, void(boost::beast::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& buffers) {
          Write write;
          write.owned.assign(boost::asio::buffer_sequence_begin(buffers), boost::asio::buffer_sequence_end(buffers));
          write.handler.emplace(std::move(handler));
          submit(std::move(write));
        },
        token, buffers);
  }

  // The same for the session's gather writes, without copying the buffer list: `buffers` (and
  // what it points to) must stay as they are until `handler` runs.
  template <class Handler>
  void async_write_all(const std::vector<boost::asio::const_buffer>& buffers, Handler&& handler) {
    Write write;
    write.borrowed = &buffers;
    write.handler.emplace(std::forward<Handler>(handler));
    submit(std::move(write));
  }

 private:
  // Only ever move-constructed, never assigned: Boost 1.81's any_completion_handler move
  // assignment recurses without end (it copies from an lvalue through its converting constructor).
  struct Write {
    std::vector<boost::asio::const_buffer> owned;
    const std::vector<boost::asio::const_buffer>* borrowed = nullptr;
    std::optional<WriteHandler> handler;
  };

  // Held by the write in flight. Should that write be destroyed without completing (its
  // io_context shut down), the writes waiting behind it go with it: their handlers hold the
  // session, which holds this stream, and nothing else would ever free either.
  class Turn {
   public:
    explicit Turn(OrderedWriteStream* self) : self_(self) {}
    Turn(Turn&& other) noexcept : self_(std::exchange(other.self_, nullptr)) {}
    Turn& operator=(Turn&&) = delete;
    ~Turn() {
      if (!self_) return;
      std::list<Write> doomed = std::move(self_->waiting_);
      self_->waiting_.clear();
    }
    void done() { self_ = nullptr; }

   private:
    OrderedWriteStream* self_;
  };

  // The completion of the write in flight; it owns the caller's handler.
  struct Completion {
    OrderedWriteStream* self;
    WriteHandler handler;
    Turn turn;  // declared last, destroyed first: while `handler` still holds the session

    void operator()(boost::beast::error_code ec, std::size_t bytes) {
      turn.done();
      self->busy_ = false;
      if (!self->waiting_.empty()) {
        Write next(std::move(self->waiting_.front()));
        self->waiting_.pop_front();
        self->start(std::move(next));
      }
      std::move(handler)(ec, bytes);
    }
  };

  void submit(Write write) {
    if (busy_) {
      waiting_.push_back(std::move(write));
      return;
    }
    start(std::move(write));
  }

  void start(Write write) {
    busy_ = true;
    // Completes on the stream's executor, the strand every caller is on.
    Completion completion{this, WriteHandler(std::move(*write.handler)), Turn(this)};
    if (write.borrowed)  // a view: Asio keeps a copy of the buffer list, here without allocating
      boost::asio::async_write(stream_, boost::span<const boost::asio::const_buffer>(*write.borrowed),
                               std::move(completion));
    else
      boost::asio::async_write(stream_, std::move(write.owned), std::move(completion));
  }

  Stream stream_;
  bool busy_ = false;
  std::list<Write> waiting_;  // at most one each from Beast and the session; no memory when empty
};

// How Beast closes the connection under a WebSocket: as the wrapped stream does.
template <class Stream>
void teardown(boost::beast::role_type role, OrderedWriteStream<Stream>& stream, boost::beast::error_code& ec) {
  using boost::beast::websocket::teardown;
  teardown(role, stream.next_layer(), ec);
}

template <class Stream, class TeardownHandler>
void async_teardown(boost::beast::role_type role, OrderedWriteStream<Stream>& stream, TeardownHandler&& handler) {
  using boost::beast::websocket::async_teardown;
  async_teardown(role, stream.next_layer(), std::forward<TeardownHandler>(handler));
}

}  // namespace switchboard::server
