#pragma once
// Definitions of the WebSocketSession template. Each stream type is instantiated in its own
// source file (Plain…, Tls…) so that the two heavy instantiations build in parallel.
#include "transport/WebSocketSession.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "switchboard/protocol/CloseCode.h"
#include "switchboard/protocol/ErrorCode.h"
#include "switchboard/protocol/Messages.h"
#include "switchboard/server/Log.h"
#include "transport/BinaryPushes.h"
#include "transport/FlushQueue.h"
#include "transport/PerMessageDeflate.h"

namespace switchboard::server {

namespace close_code = protocol::close_code;

namespace detail {
// The first header byte's RSV1 bit, carried with a queued frame's opcode: permessage-deflate.
inline constexpr std::uint8_t kRsv1 = 0x40;
// What one read of a plain socket takes at most, into its thread's buffer (shared by the
// connections of the thread: reads run one at a time there); a readable socket is read until it
// has nothing more, or for at most kMaxReadsPerTurn of these (then it waits its turn again).
inline constexpr std::size_t kReadBytes = 64 * 1024;
inline constexpr int kMaxReadsPerTurn = 4;
// A TLS connection reads into a buffer of its own, kept for its life: 4 KiB, what Beast's read
// buffers held before (OpenSSL keeps the rest of a larger record for the next read; Asio's TLS
// stream already holds two 17 KiB buffers per connection).
inline constexpr std::size_t kTlsReadBytes = 4 * 1024;
inline char* thread_read_buffer() {
  thread_local std::unique_ptr<char[]> buffer(new char[kReadBytes]);
  return buffer.get();
}
}  // namespace detail

template <class NextLayer>
WebSocketSession<NextLayer>::WebSocketSession(NextLayer&& stream, SessionContext& ctx, cluster::ConnectionId id,
                                              Admission::Admitted admitted)
    : Connection(id, std::move(admitted.identity), TokenBucket(ctx.config.publish_rate, ctx.config.publish_burst),
                 TokenBucket(ctx.config.request_rate, ctx.config.request_burst)),
      stream_(std::move(stream)),
      reader_(ctx.config.max_message_size),
      ctx_(ctx),
      slot_(std::move(admitted.slot)),
      lifecycle_(ctx, "connection") {
  const auto executor = stream_.get_executor();  // held: target() points into it
  const auto* ioc_executor = executor.template target<net::io_context::executor_type>();
  if (!ioc_executor) throw std::logic_error("WebSocketSession: the stream must run on an io_context");
  ioc_ = &ioc_executor->context();
  inbox_ = &net::use_service<Inbox>(*ioc_);
}

template <class NextLayer>
void WebSocketSession<NextLayer>::run(http::request<http::string_body> request) {
  const Config& c = ctx_.config;
  // The session's own timeouts replace the TCP stream's from here on.
  if constexpr (requires { beast::get_lowest_layer(stream_).expires_never(); })
    beast::get_lowest_layer(stream_).expires_never();
  auto& ws = handshake_.emplace(stream_);
  websocket::stream_base::timeout timeout{};
  timeout.handshake_timeout = c.handshake_timeout;
  timeout.idle_timeout = websocket::stream_base::none();  // the idle watch's, after the handshake
  timeout.keep_alive_pings = false;
  ws.set_option(timeout);
  // permessage-deflate, when the client offers it, is the session's (PerMessageDeflate.h), not
  // Beast's: Beast's stays off, and the answer is added here.
  const bool deflate = c.deflate && deflate_offered(request[http::field::sec_websocket_extensions]);
  if (deflate) reader_.accept_compressed();
  ws.set_option(websocket::stream_base::decorator([deflate](websocket::response_type& res) {
    res.set(http::field::server, "switchboard");
    if (deflate) res.set(http::field::sec_websocket_extensions, kDeflateResponse);
  }));
  ws.async_accept(request, beast::bind_front_handler(&WebSocketSession::on_accept, this->shared_from_this()));
}

template <class NextLayer>
void WebSocketSession<NextLayer>::on_accept(beast::error_code ec) {
  handshake_.reset();  // Beast's part is over: the session reads and writes frames itself
  if (ec) {
    log::debug("websocket accept failed: " + ec.message());
    return;
  }
  if constexpr (std::is_same_v<NextLayer, net::ip::tcp::socket>) {
    beast::error_code ignored;
    stream_.non_blocking(true, ignored);  // reads are tried when the socket is readable
  } else {
    tls_buffer_.reset(new char[detail::kTlsReadBytes]);
  }
  lifecycle_.open(this->shared_from_this());
  net::use_service<IdleWatch>(*ioc_).watch(*this, this->shared_from_this(), ctx_.config.idle_timeout);
  do_read();
}


template <class NextLayer>
void WebSocketSession<NextLayer>::do_read() {
  if (stop_reading_ || reading_) return;
  reading_ = true;
  if constexpr (std::is_same_v<NextLayer, net::ip::tcp::socket>) {
    stream_.async_wait(net::socket_base::wait_read,
                       beast::bind_front_handler(&WebSocketSession::on_readable, this->shared_from_this()));
  } else {
    stream_.async_read_some(net::buffer(tls_buffer_.get(), detail::kTlsReadBytes),
                            beast::bind_front_handler(&WebSocketSession::on_tls_read, this->shared_from_this()));
  }
}

template <class NextLayer>
void WebSocketSession<NextLayer>::on_readable(beast::error_code ec) {
  reading_ = false;
  if constexpr (std::is_same_v<NextLayer, net::ip::tcp::socket>) {
    if (ec) return finish();
    char* buffer = detail::thread_read_buffer();
    for (int i = 0; i < detail::kMaxReadsPerTurn; ++i) {
      const std::size_t n = stream_.read_some(net::buffer(buffer, detail::kReadBytes), ec);
      if (ec == net::error::would_block) break;
      if (ec) return finish();  // the client went (or reset the connection)
      if (!consume(buffer, n)) return;
      if (n < detail::kReadBytes) break;
    }
    do_read();
  }
}

template <class NextLayer>
void WebSocketSession<NextLayer>::on_tls_read(beast::error_code ec, std::size_t bytes) {
  reading_ = false;
  if (ec) return finish();
  if (!consume(tls_buffer_.get(), bytes)) return;
  do_read();
}

template <class NextLayer>
bool WebSocketSession<NextLayer>::consume(char* data, std::size_t size) {
  ctx_.metrics.bytes_received += size;
  heard();
  auto status = reader_.consume(data, size, [this](const FrameReader::Frame& frame) { return on_frame(frame); });
  if (status == FrameReader::Status::more) return !stop_reading_;
  stop_reading_ = true;
  // A breach of the protocol: counted and closed as the node's closes are, after what was queued
  // before (the replies to the requests read before the bad frame).
  if (status == FrameReader::Status::failed) begin_close(reader_.failure().code, reader_.failure().reason);
  return false;
}

template <class NextLayer>
bool WebSocketSession<NextLayer>::on_frame(const FrameReader::Frame& frame) {
  using Kind = FrameReader::Kind;
  switch (frame.kind) {
    case Kind::text:
    case Kind::binary:
      ++ctx_.metrics.frames_received;
      if (frame.compressed) ++ctx_.metrics.deflated_messages_received;
      // A text frame is a JSON request; a binary frame a publish of bytes (protocol/BinaryData.h).
      // Once the session is closing, requests are not read any more.
      if (!lifecycle_.closing() && !lifecycle_.finished()) {
        in_own_handler_ = true;
        ctx_.dispatcher.handle(this->shared_from_this(), frame.payload, frame.kind == Kind::binary);
        in_own_handler_ = false;
      }
      return !lifecycle_.finished();
    case Kind::ping:
      if (!close_queued_) enqueue_control(0xA, frame.payload);  // its pong
      return true;
    case Kind::pong:
      return true;
    case Kind::close:
      close_received_ = true;
      if (close_written_) {  // the close handshake is complete
        end_cleanly();
        return false;
      }
      // Answered with the same code (none for none), right after the write under way.
      if (!close_queued_)
        close_at_once(frame.close_code == 1005 ? websocket::close_reason()
                                                : websocket::close_reason(static_cast<websocket::close_code>(frame.close_code)));
      return false;
  }
  return true;
}

template <class NextLayer>
void WebSocketSession<NextLayer>::deliver(protocol::Payload frame, Clock::time_point at) {
  // Each I/O thread runs its own io_context, and a connection's handlers all run on its one
  // thread. A delivery made on that thread — the fan-out of a publish read by another
  // connection of the thread, or the dispatcher's — is queued at once: no post, no handler per
  // subscriber. Handed over, in order, through the thread's inbox: from other threads; while
  // work handed over before waits (it goes first); and from the connection's own handlers, so
  // that what the dispatcher queues while handling a request stays behind what is already on its way.
  if (ioc_->get_executor().running_in_this_thread() && !in_own_handler_ && posted_.load(std::memory_order_acquire) == 0)
    return enqueue(std::move(frame), at);
  posted_.fetch_add(1, std::memory_order_release);
  inbox_->deliver(as_receiver(), std::move(frame), at);
}

template <class NextLayer>
void WebSocketSession<NextLayer>::receive(protocol::Payload frame, Clock::time_point at) {
  enqueue(std::move(frame), at);
  posted_.fetch_sub(1, std::memory_order_release);
}

template <class NextLayer>
void WebSocketSession<NextLayer>::reply(std::string text) {
  enqueue(protocol::make_payload(std::move(text)));
}

template <class NextLayer>
void WebSocketSession<NextLayer>::shutdown(std::uint16_t code, std::string reason) {
  posted_.fetch_add(1, std::memory_order_release);
  inbox_->post(as_receiver(), [this, code, reason = std::move(reason)]() mutable { begin_close(code, std::move(reason)); });
}

template <class NextLayer>
void WebSocketSession<NextLayer>::post(std::function<void()> fn) {
  posted_.fetch_add(1, std::memory_order_release);
  inbox_->post(as_receiver(), std::move(fn));
}

template <class NextLayer>
void WebSocketSession<NextLayer>::run(std::function<void()>& task) {
  // The broker's work for this connection, and its close (shutdown): run as the connection's own
  // handler, so that what it delivers to the connection stays behind what is on its way.
  // Nothing runs once the connection is gone.
  if (!lifecycle_.finished()) {
    in_own_handler_ = true;
    task();
    in_own_handler_ = false;
  }
  posted_.fetch_sub(1, std::memory_order_release);
}

template <class NextLayer>
void WebSocketSession<NextLayer>::abort() {
  net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->cut(); });
}

template <class NextLayer>
bool WebSocketSession<NextLayer>::socket_open() {
  auto& lowest = beast::get_lowest_layer(stream_);
  if constexpr (requires { lowest.is_open(); }) return lowest.is_open();
  else return lowest.socket().is_open();
}

template <class NextLayer>
void WebSocketSession<NextLayer>::close_socket() {
  // A bare socket's close() throws on failure, and a throw would leave the event loop: take the
  // error instead (tcp_stream's close() never throws).
  auto& socket = beast::get_lowest_layer(stream_);
  if constexpr (requires(beast::error_code & ec) { socket.close(ec); }) {
    beast::error_code ignored;
    socket.close(ignored);
  } else {
    socket.close();
  }
}

template <class NextLayer>
void WebSocketSession<NextLayer>::watch_token_expiry() {
  lifecycle_.watch_token(
      stream_.get_executor(), *this, this->shared_from_this(),
      [this](std::int64_t exp) { enqueue(protocol::refresh_push(exp)); },
      [this](std::uint16_t code, std::string reason) { begin_close(code, std::move(reason)); });
}

template <class NextLayer>
void WebSocketSession<NextLayer>::enqueue(protocol::Payload frame, Clock::time_point at) {
  if (!lifecycle_.live()) return;
  std::uint8_t opcode = 0x1;  // text
  if (auto converted = binary_push(frame)) {  // a message of binary data: its binary frame instead
    frame = std::move(converted);
    opcode = 0x2;
  }
  std::uint32_t saved = 0;
  if (reader_.accepts_compressed() && frame->size() >= ctx_.config.deflate_threshold) {
    if (auto deflated = deflate_frame(frame); deflated.frame) {  // once per message and thread
      frame = std::move(deflated.frame);
      opcode |= detail::kRsv1;
      saved = static_cast<std::uint32_t>(deflated.saved);
    }
  }
  queued_bytes_ += frame->size();
  if (queue_.empty()) queue_.reserve(std::max<std::size_t>(8, last_round_frames_));
  queue_.push_back({std::move(frame), at, opcode, saved});
  if (lifecycle_.overflowing(*this, queued_bytes_, queue_.size() - head_)) {
    ctx_.metrics.write_queue_bytes.observe(static_cast<double>(queued_bytes_));
    return begin_close(close_code::slow_consumer, "slow consumer");
  }
  if (!writing_ && !flush_scheduled_) schedule_flush();
  if (auto* queue = FlushQueue::current()) queue->note_frame();  // after a cork it began
}

template <class NextLayer>
void WebSocketSession<NextLayer>::enqueue_control(std::uint8_t opcode, std::string_view payload) {
  if (lifecycle_.finished()) return;
  queued_bytes_ += payload.size();
  queue_.push_back({protocol::make_payload(std::string(payload)), Clock::now(), opcode});
  // Pongs answer what the client sends: one that pings without reading fills the queue like a
  // slow reader (the close and the node's own pings are few, and the close deadline bounds a close).
  if (opcode == 0xA && lifecycle_.live() && lifecycle_.overflowing(*this, queued_bytes_, queue_.size() - head_))
    return begin_close(close_code::slow_consumer, "slow consumer");
  if (!writing_) do_write();
}

template <class NextLayer>
void WebSocketSession<NextLayer>::send_ping() {
  if (!lifecycle_.live() || close_queued_) return;
  enqueue_control(0x9, {});
}

template <class NextLayer>
void WebSocketSession<NextLayer>::idle_timed_out() {
  // Silent through a whole ping: the client (or the network to it) is gone. Dropped without a
  // close frame, as a TCP connection that died would be.
  if (lifecycle_.finished()) return;
  log::debug("websocket: no answer to the keep-alive ping within the idle timeout");
  cut();
}

template <class NextLayer>
void WebSocketSession<NextLayer>::schedule_flush() {
  flush_scheduled_ = true;
  if (auto* queue = FlushQueue::current()) return queue->request(this->shared_from_this());
  net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->flush(); });
}

template <class NextLayer>
void WebSocketSession<NextLayer>::flush() {
  flush_scheduled_ = false;
  // Closing: the close frame may be queued already, and no data frame may follow it.
  if (!lifecycle_.live() || close_queued_) return;
  if (!writing_ && head_ < queue_.size()) do_write(/*at_once=*/true);
}

namespace detail {
// The header of an unmasked, unfragmented frame of `opcode` and `size` bytes (RFC 6455, 5.2);
// returns its length. `opcode` may carry kRsv1: a compressed message.
inline std::size_t frame_header(std::size_t size, std::uint8_t opcode, unsigned char* out) {
  out[0] = static_cast<unsigned char>(0x80 | opcode);  // FIN
  if (size < 126) {
    out[1] = static_cast<unsigned char>(size);
    return 2;
  }
  if (size <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<unsigned char>(size >> 8);
    out[3] = static_cast<unsigned char>(size);
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<unsigned char>(static_cast<std::uint64_t>(size) >> (56 - 8 * i));
  return 10;
}
// What one write takes at most: frames, bytes (a single larger frame still goes alone), and
// pieces (Asio hands the kernel at most 64 buffers per call). Frames shorter than kCopyBelow are
// copied into the staged buffer; a longer one is a piece of its own.
inline constexpr std::size_t kMaxFramesPerWrite = 1024;
inline constexpr std::size_t kMaxWriteBytes = 64 * 1024;
inline constexpr std::size_t kMaxPieces = 64;
inline constexpr std::size_t kCopyBelow = 1024;
inline constexpr std::size_t kMaxHeader = 10;
}  // namespace detail

template <class NextLayer>
void WebSocketSession<NextLayer>::do_write(bool at_once) {
  writing_ = true;
  ctx_.metrics.write_queue_bytes.observe(static_cast<double>(queued_bytes_));
  // Which frames go, and how much is staged: so that staged_ is sized once and the pieces
  // below point into storage that stays put.
  std::size_t frames = 0, bytes = 0, staged = 0, pieces = 1;
  for (std::size_t i = head_; i < queue_.size() && frames < detail::kMaxFramesPerWrite; ++i) {
    const std::size_t size = queue_[i].frame->size();
    const bool copied = size < detail::kCopyBelow;
    if (frames > 0 && (bytes + size > detail::kMaxWriteBytes || (!copied && pieces + 2 > detail::kMaxPieces))) break;
    ++frames;
    bytes += size + detail::kMaxHeader;
    staged += detail::kMaxHeader + (copied ? size : 0);
    if (!copied) pieces += 2;
  }
  in_flight_ = frames;
  // One block: the list of pieces, then the staged bytes.
  const std::size_t list_bytes = pieces * sizeof(net::const_buffer);
  if (list_bytes + staged > staged_capacity_) {
    staged_.reset(new unsigned char[list_bytes + staged]);
    staged_capacity_ = list_bytes + staged;
  }
  auto* const list = reinterpret_cast<net::const_buffer*>(staged_.get());
  unsigned char* const bytes_at = staged_.get() + list_bytes;
  std::size_t n = 0;  // pieces listed
  std::size_t at = 0, piece = 0;  // the end of what is staged, and where its open piece starts
  for (std::size_t i = head_; i < head_ + in_flight_; ++i) {
    const std::string& text = *queue_[i].frame;
    at += detail::frame_header(text.size(), queue_[i].opcode, bytes_at + at);
    if (text.size() < detail::kCopyBelow) {
      std::memcpy(bytes_at + at, text.data(), text.size());
      at += text.size();
      continue;
    }
    new (list + n++) net::const_buffer(bytes_at + piece, at - piece);
    new (list + n++) net::const_buffer(text.data(), text.size());
    piece = at;
  }
  if (at > piece) new (list + n++) net::const_buffer(bytes_at + piece, at - piece);
  std::size_t first = 0;  // the pieces from here on are left for a write operation
  std::size_t sent = 0;   // bytes the socket took at once
  if constexpr (std::is_same_v<NextLayer, net::ip::tcp::socket>) {
    if (at_once) {
      // One sendmsg, without a write operation, its completion's turn and the deadline's watch: at
      // chat rate, where each write carries a message or two, those are a good part of what a
      // delivery costs in user space (bench/README).
      beast::error_code ec;
      sent = stream_.write_some(boost::span<const net::const_buffer>(list, n), ec);
      if (ec == net::error::would_block) ec = {};
      if (ec || sent == net::buffer_size(boost::span<const net::const_buffer>(list, n))) return on_write(ec, sent);
      // Taken in part: the rest goes as a write operation, from where the socket stopped.
      std::size_t into = sent;
      for (; into >= list[first].size(); ++first) into -= list[first].size();
      list[first] += into;
    }
  }
  lifecycle_.write_started(stream_.get_executor(), this->shared_from_this(), [this] { on_write_timeout(); });
  // The list stays put until the write completes: Asio copies no more than the view.
  net::async_write(stream_, boost::span<const net::const_buffer>(list + first, n - first),
                   [self = this->shared_from_this(), sent](beast::error_code ec, std::size_t bytes) {
                     self->on_write(ec, sent + bytes);
                   });
}

template <class NextLayer>
void WebSocketSession<NextLayer>::on_write(beast::error_code ec, std::size_t bytes) {
  writing_ = false;
  lifecycle_.write_finished();
  if (ec) return cut();
  ctx_.metrics.frames_sent += in_flight_;
  ++ctx_.metrics.socket_writes;
  ctx_.metrics.bytes_sent += bytes;
  {
    const auto now = Clock::now();
    Histogram::Batch delivery(ctx_.metrics.delivery_seconds);
    std::size_t deflated = 0, saved = 0;
    for (std::size_t i = head_; i < head_ + in_flight_; ++i) {
      delivery.observe(std::chrono::duration<double>(now - queue_[i].at).count());
      queued_bytes_ -= queue_[i].frame->size();
      queue_[i].frame.reset();
      if (queue_[i].saved != 0) {
        ++deflated;
        saved += queue_[i].saved;
      }
    }
    if (deflated != 0) {
      ctx_.metrics.deflated_frames_sent += deflated;
      ctx_.metrics.deflate_bytes_saved += saved;
    }
  }
  head_ += in_flight_;
  in_flight_ = 0;
  if (head_ == queue_.size()) {
    // All written: give back what the queue and the write held.
    last_round_frames_ = static_cast<std::uint16_t>(std::min<std::size_t>(queue_.size(), detail::kMaxFramesPerWrite));
    std::vector<Queued>().swap(queue_);
    staged_.reset();
    staged_capacity_ = 0;
    head_ = 0;
  } else if (head_ >= 1024 && head_ * 2 >= queue_.size()) {
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
  // Cut meanwhile (the write deadline fired in the same turn as this completion): nothing more
  // goes out, not even a close frame.
  if (!socket_open()) return;
  if (close_queued_ && head_ == queue_.size()) {  // the close frame is written
    close_written_ = true;
    // The client's close came: the connection ends; so it does when the client broke the
    // protocol. Else its close frame is awaited, for the close deadline at most.
    if (close_received_) end_cleanly();
    else if (stop_reading_) cut();
    return;
  }
  if (close_queued_ || lifecycle_.closing()) {  // the rest, then the close frame, without a cork
    if (head_ < queue_.size()) do_write();
    return;
  }
  if (head_ == queue_.size()) return;
  // What was queued during this write is corked like the first frame was, unless it already
  // fills a write: otherwise a loopback write, done at once, would take each frame alone.
  if (queue_.size() - head_ >= detail::kMaxFramesPerWrite || queued_bytes_ >= detail::kMaxWriteBytes) do_write();
  else if (!flush_scheduled_) schedule_flush();
}

template <class NextLayer>
void WebSocketSession<NextLayer>::on_write_timeout() {
  if (!lifecycle_.write_timed_out(*this, queue_.size() - head_ - in_flight_)) return;
  queue_.resize(head_ + in_flight_);  // the write under way reads from these until it fails
  cut();
}

template <class NextLayer>
void WebSocketSession<NextLayer>::begin_close(std::uint16_t code, std::string reason) {
  // A peer that does not read never takes the close frame: the lifecycle cuts it after a bound.
  if (!lifecycle_.begin_close(stream_.get_executor(), this->weak_from_this(), [this] { cut(); })) return;
  close_reason_.code = code;
  close_reason_.reason = reason;
  // A slow consumer's backlog is dropped (and counted): only the frames being written finish.
  // Any other close first writes what was queued before it — the reply that explains it, say.
  if (code == close_code::slow_consumer) ctx_.metrics.deliveries_dropped_slow_consumer += drop_unwritten();
  ctx_.metrics.count_close(code);
  do_close();
}

template <class NextLayer>
void WebSocketSession<NextLayer>::close_at_once(websocket::close_reason reason) {
  // Only the frames being written finish; the close frame follows them.
  lifecycle_.begin_close(stream_.get_executor(), this->weak_from_this(), [this] { cut(); });
  close_reason_ = std::move(reason);
  drop_unwritten();
  do_close();
}

template <class NextLayer>
void WebSocketSession<NextLayer>::do_close() {
  if (close_queued_ || lifecycle_.finished()) return;
  close_queued_ = true;
  std::string payload;
  if (close_reason_.code != websocket::close_code::none) {
    payload += static_cast<char>(close_reason_.code >> 8);
    payload += static_cast<char>(close_reason_.code & 0xFF);
    payload.append(close_reason_.reason.data(), close_reason_.reason.size());  // 123 bytes at most
  }
  enqueue_control(0x8, payload);
}

template <class NextLayer>
void WebSocketSession<NextLayer>::end_cleanly() {
  // As RFC 6455 has a server end: TLS says close_notify; TCP is shut down for sending, and what
  // the client still sends is read until it closes (bounded by the close deadline).
  using websocket::async_teardown;  // and, found by argument, the TLS stream's
  async_teardown(beast::role_type::server, stream_, [self = this->shared_from_this()](beast::error_code) {
    self->close_socket();
    self->finish();
  });
}

template <class NextLayer>
std::size_t WebSocketSession<NextLayer>::drop_unwritten() {
  // Frames being written stay until their write completes (it reads from them).
  const std::size_t keep = head_ + (writing_ ? in_flight_ : 0);
  const std::size_t dropped = queue_.size() - keep;
  queue_.resize(keep);
  queued_bytes_ = 0;
  for (std::size_t i = head_; i < queue_.size(); ++i) queued_bytes_ += queue_[i].frame->size();
  return dropped;
}

template <class NextLayer>
void WebSocketSession<NextLayer>::cut() {
  close_socket();
  // A read under way fails with the socket and finishes the session; without one, it ends here.
  if (!reading_) finish();
}

template <class NextLayer>
void WebSocketSession<NextLayer>::finish() {
  if (lifecycle_.finish(*this)) drop_unwritten();
}

}  // namespace switchboard::server
