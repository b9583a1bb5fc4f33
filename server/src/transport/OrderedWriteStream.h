#pragma once
// The layer under a client WebSocket's Beast stream. Reads pass through. Writes are taken whole
// and one at a time, in the order asked, whoever asks: Beast (the handshake answer, pings, pongs,
// the close frame) or the session, which frames its messages itself and writes everything queued
// in one gather write — something Beast's one-message-per-write API cannot do. Without this, a
// pong Beast writes on its own could land in the middle of the session's write.
//
// Every operation runs on the session's thread, so there is no lock.
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
#include <memory>
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

  explicit OrderedWriteStream(Stream&& stream) : stream_(std::move(stream)), state_(std::make_shared<State>()) {
    state_->stream = &stream_;
  }
  // A write in flight may outlive the stream (Beast's keep-alive ping holds its stream only
  // weakly): it then finds the stream gone and starts nothing more.
  ~OrderedWriteStream() { state_->stream = nullptr; }
  OrderedWriteStream(const OrderedWriteStream&) = delete;
  OrderedWriteStream& operator=(const OrderedWriteStream&) = delete;

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
          submit(state_, std::move(write));
        },
        token, buffers);
  }

  // The same for the session's gather writes, without copying the buffer list: `buffers` (and
  // what it points to) must stay as they are until `handler` runs.
  template <class Handler>
  void async_write_all(boost::span<const boost::asio::const_buffer> buffers, Handler&& handler) {
    Write write;
    write.borrowed = buffers;
    write.handler.emplace(std::forward<Handler>(handler));
    submit(state_, std::move(write));
  }

 private:
  // Only ever move-constructed, never assigned: Boost 1.81's any_completion_handler move
  // assignment recurses without end (it copies from an lvalue through its converting constructor).
  struct Write {
    std::vector<boost::asio::const_buffer> owned;
    std::optional<boost::span<const boost::asio::const_buffer>> borrowed;
    std::optional<WriteHandler> handler;
  };

  struct State {
    Stream* stream = nullptr;  // null once the OrderedWriteStream is gone
    bool busy = false;
    std::list<Write> waiting;  // at most one each from Beast and the session; no memory when empty
  };

  // Held by the write in flight. Should that write be destroyed without completing (its
  // io_context shut down), the writes waiting behind it go with it: their handlers hold the
  // session, which holds this stream, and nothing else would ever free either.
  class Turn {
   public:
    explicit Turn(State* state) : state_(state) {}
    Turn(Turn&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
    Turn& operator=(Turn&&) = delete;
    ~Turn() {
      if (!state_) return;
      std::list<Write> doomed = std::move(state_->waiting);
      state_->waiting.clear();
    }
    void done() { state_ = nullptr; }

   private:
    State* state_;
  };

  // The completion of the write in flight; it owns the caller's handler and shares the state.
  struct Completion {
    std::shared_ptr<State> state;
    WriteHandler handler;
    Turn turn;  // declared last, destroyed first: while `handler` still holds the session

    void operator()(boost::beast::error_code ec, std::size_t bytes) {
      turn.done();
      state->busy = false;
      if (!state->waiting.empty()) {
        Write next(std::move(state->waiting.front()));
        state->waiting.pop_front();
        if (state->stream) start(state, std::move(next));
        // else: the stream is gone; `next` and its handler go with this scope.
      }
      std::move(handler)(ec, bytes);
    }
  };

  static void submit(const std::shared_ptr<State>& state, Write write) {
    if (state->busy) {
      state->waiting.push_back(std::move(write));
      return;
    }
    start(state, std::move(write));
  }

  static void start(const std::shared_ptr<State>& state, Write write) {
    state->busy = true;
    // Completes on the stream's executor, the thread every caller is on.
    Completion completion{state, WriteHandler(std::move(*write.handler)), Turn(state.get())};
    if (write.borrowed)  // a view: Asio keeps a copy of the buffer list, here without allocating
      boost::asio::async_write(*state->stream, *write.borrowed, std::move(completion));
    else
      boost::asio::async_write(*state->stream, std::move(write.owned), std::move(completion));
  }

  Stream stream_;
  std::shared_ptr<State> state_;  // shared with the write in flight, which may outlive this object
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
