#pragma once
// Definitions of the SseSession template. Each stream type is instantiated in its own source
// file (Plain…, Tls…), like the WebSocket and HTTP sessions.
#include "transport/SseSession.h"

#include "http/CrossOrigin.h"
#include "switchboard/protocol/CloseCode.h"
#include "switchboard/protocol/EventId.h"
#include "switchboard/protocol/Messages.h"
#include "switchboard/server/Log.h"

namespace switchboard::server {

template <class Stream>
SseSession<Stream>::SseSession(Stream&& stream, SessionContext& ctx, cluster::ConnectionId id, Admission::Admitted admitted)
    : Connection(id, std::move(admitted.identity), TokenBucket(ctx.config.publish_rate, ctx.config.publish_burst),
                 TokenBucket(ctx.config.request_rate, ctx.config.request_burst)),
      stream_(std::move(stream)),
      posts_(stream_.get_executor()),
      ctx_(ctx),
      slot_(std::move(admitted.slot)),
      timer_(stream_.get_executor()),
      lifecycle_(ctx, "SSE stream") {}

template <class Stream>
void SseSession<Stream>::run(const HttpRequest& request, SseRequest sse) {
  for (auto& room : sse.rooms) {
    room_index_.emplace(room.name, rooms_.size());
    rooms_.push_back({std::move(room.name), room.presence, std::move(room.since), true});
    positions_.emplace_back(rooms_.back().name, protocol::StreamPosition{});
  }
  chunked_ = request.version() >= 11;
  head_ = std::make_unique<http::response<http::empty_body>>(http::status::ok, request.version());
  head_->set(http::field::server, "switchboard");
  head_->set(http::field::content_type, "text/event-stream; charset=utf-8");
  head_->set(http::field::cache_control, "no-store");
  head_->set("X-Accel-Buffering", "no");  // proxies that buffer responses pass this one through
  // The stream's Origin passed the node's check: a page of that origin may read the stream.
  CrossOrigin::allow(request[http::field::origin], *head_);
  head_->keep_alive(false);
  if (chunked_) head_->chunked(true);
  head_writer_ = std::make_unique<http::response_serializer<http::empty_body>>(*head_);
  beast::get_lowest_layer(stream_).expires_after(ctx_.config.handshake_timeout);
  http::async_write_header(stream_, *head_writer_,
                           beast::bind_front_handler(&SseSession::on_head, this->shared_from_this()));
}

template <class Stream>
void SseSession<Stream>::on_head(beast::error_code ec, std::size_t) {
  head_writer_.reset();
  head_.reset();
  if (ec) return log::debug("SSE stream head not written: " + ec.message());
  // The keep-alive ticks watch the stream from here on.
  beast::get_lowest_layer(stream_).expires_never();
  ++ctx_.metrics.sse_streams_opened;
  auto self = this->shared_from_this();
  lifecycle_.open(self);
  for (std::size_t i = 0; i < rooms_.size() && !lifecycle_.closing(); ++i)
    ctx_.dispatcher.subscribe_on_behalf(self, rooms_[i].name, rooms_[i].presence, rooms_[i].since);
  arm_keepalive();
  do_read();
}

template <class Stream>
void SseSession<Stream>::do_read() {
  stream_.async_read_some(net::buffer(read_buffer_),
                          beast::bind_front_handler(&SseSession::on_read, this->shared_from_this()));
}

template <class Stream>
void SseSession<Stream>::on_read(beast::error_code ec, std::size_t) {
  // The client sends nothing after its request: this only learns when it goes away.
  if (ec) return drop();
  do_read();
}

template <class Stream>
std::string SseSession<Stream>::event_id() const {
  return protocol::format_event_id(positions_);
}

template <class Stream>
void SseSession<Stream>::reply(std::string) {}

template <class Stream>
void SseSession<Stream>::subscribed(const nlohmann::json&, const std::string& room, const protocol::StreamPosition& position,
                                    std::optional<bool> recovered) {
  auto it = room_index_.find(room);
  if (it == room_index_.end()) return;
  // Recovered: the missed messages follow and move the position on from where the client was.
  positions_[it->second].second = recovered.value_or(false) ? *rooms_[it->second].since : position;
  enqueue(event_id(), *protocol::subscribed_push(room, position, recovered));
}

template <class Stream>
void SseSession<Stream>::unsubscribed(const nlohmann::json&, const std::string& room, protocol::ErrorCode code,
                                      std::string_view message) {
  auto it = room_index_.find(room);
  if (it == room_index_.end()) return;
  rooms_[it->second].active = false;
  positions_[it->second].second = {};
  enqueue({}, *protocol::unsubscribed_push(room, code, message));
}

template <class Stream>
void SseSession<Stream>::deliver(protocol::Payload frame, Clock::time_point) {
  net::post(posts_, [self = this->shared_from_this(), frame = std::move(frame)] {
    self->enqueue({}, *frame);
  });
}

template <class Stream>
void SseSession<Stream>::deliver_message(const protocol::Payload& frame, const std::string& room, std::uint64_t offset,
                                         std::string_view epoch, Clock::time_point) {
  net::post(posts_, [self = this->shared_from_this(), frame, room, offset, epoch = std::string(epoch)] {
    auto it = self->room_index_.find(room);
    if (it == self->room_index_.end() || !self->rooms_[it->second].active) return;
    self->positions_[it->second].second = {offset, epoch};
    self->enqueue(self->event_id(), *frame);
  });
}

template <class Stream>
void SseSession<Stream>::enqueue(std::string_view event_id, std::string_view data) {
  if (!lifecycle_.live()) return;
  if (!event_id.empty()) pending_.append("id: ").append(event_id).append("\n");
  // Frames are single-line JSON: one data line each.
  pending_.append("data: ").append(data).append("\n\n");
  ++pending_events_;
  if (lifecycle_.overflowing(*this, sending_.size() + pending_.size(), sending_events_ + pending_events_))
    return begin_close(protocol::close_code::slow_consumer, "slow consumer");
  if (!writing_) do_write();
}

template <class Stream>
void SseSession<Stream>::do_write() {
  writing_ = true;
  wrote_since_tick_ = true;
  lifecycle_.write_started(stream_.get_executor(), this->shared_from_this(), [this] { on_write_timeout(); });
  sending_.swap(pending_);
  pending_.clear();
  sending_events_ = pending_events_;
  pending_events_ = 0;
  auto handler = beast::bind_front_handler(&SseSession::on_write, this->shared_from_this());
  // Everything queued meanwhile goes out in one write (one chunk).
  if (chunked_) net::async_write(stream_, http::make_chunk(net::buffer(sending_)), std::move(handler));
  else net::async_write(stream_, net::buffer(sending_), std::move(handler));
}

template <class Stream>
void SseSession<Stream>::on_write(beast::error_code ec, std::size_t bytes) {
  writing_ = false;
  lifecycle_.write_finished();
  if (ec) return drop();
  ctx_.metrics.frames_sent += sending_events_;
  ++ctx_.metrics.socket_writes;
  ctx_.metrics.bytes_sent += bytes;
  sending_events_ = 0;
  sending_.clear();
  // A burst grew the buffers; give the memory back rather than keep it per quiet stream.
  if (sending_.capacity() > 16 * 1024) sending_.shrink_to_fit();
  if (lifecycle_.closing()) return do_close();
  if (!pending_.empty()) do_write();
}

template <class Stream>
void SseSession<Stream>::arm_keepalive() {
  // Ticks at half the interval: a stream is never silent for longer than the interval.
  timer_.expires_after(std::chrono::duration_cast<std::chrono::milliseconds>(ctx_.config.sse_keepalive) / 2);
  timer_.async_wait(beast::bind_front_handler(&SseSession::on_keepalive, this->shared_from_this()));
}

template <class Stream>
void SseSession<Stream>::on_keepalive(beast::error_code ec) {
  if (ec || !lifecycle_.live()) return;
  if (!wrote_since_tick_ && !writing_) {
    // A comment: clients and proxies see traffic on a quiet stream, and a dead peer shows.
    pending_ += ":\n\n";
    do_write();
  }
  wrote_since_tick_ = false;
  arm_keepalive();
}

template <class Stream>
void SseSession<Stream>::on_write_timeout() {
  // The client has taken nothing for --write-timeout: a close event could not get through
  // either. Cut the stream.
  if (lifecycle_.write_timed_out(*this, sending_events_ + pending_events_)) drop();
}

template <class Stream>
void SseSession<Stream>::shutdown(std::uint16_t code, std::string reason) {
  net::post(posts_, [self = this->shared_from_this(), code, reason = std::move(reason)]() mutable {
    self->begin_close(code, std::move(reason));
  });
}

template <class Stream>
void SseSession<Stream>::abort() {
  net::post(posts_, [self = this->shared_from_this()] { self->drop(); });
}

template <class Stream>
void SseSession<Stream>::post(std::function<void()> fn) {
  net::post(posts_, [self = this->shared_from_this(), fn = std::move(fn)] {
    if (!self->lifecycle_.finished()) fn();
  });
}

template <class Stream>
void SseSession<Stream>::watch_token_expiry() {
  lifecycle_.watch_token(
      stream_.get_executor(), *this, this->shared_from_this(),
      [this](std::int64_t exp) { enqueue({}, *protocol::refresh_push(exp)); },
      [this](std::uint16_t code, std::string reason) { begin_close(code, std::move(reason)); });
}

template <class Stream>
void SseSession<Stream>::begin_close(std::uint16_t code, std::string reason) {
  // A peer that does not read never takes the close event: the lifecycle cuts it after a bound.
  if (!lifecycle_.begin_close(stream_.get_executor(), this->weak_from_this(), [this] { drop(); })) return;
  timer_.cancel();  // no more keep-alive ticks
  close_code_ = code;
  close_reason_ = std::move(reason);
  // Drop what is not yet on the wire; the write under way, if any, finishes first.
  if (code == protocol::close_code::slow_consumer) ctx_.metrics.deliveries_dropped_slow_consumer += pending_events_;
  pending_.clear();
  pending_events_ = 0;
  if (!writing_) do_close();
}

template <class Stream>
void SseSession<Stream>::do_close() {
  ctx_.metrics.count_close(close_code_);
  // The close event, then the end of the body.
  sending_ = "data: " + *protocol::close_push(close_code_, close_reason_) + "\n\n";
  writing_ = true;
  auto end = [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
    if (ec || !self->chunked_) return self->drop();
    net::async_write(self->stream_, http::make_chunk_last(),
                     [self](beast::error_code, std::size_t) { self->drop(); });
  };
  if (chunked_) net::async_write(stream_, http::make_chunk(net::buffer(sending_)), std::move(end));
  else net::async_write(stream_, net::buffer(sending_), std::move(end));
}

template <class Stream>
void SseSession<Stream>::drop() {
  beast::error_code ec;
  beast::get_lowest_layer(stream_).socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
  beast::get_lowest_layer(stream_).close();
  finish();
}

template <class Stream>
void SseSession<Stream>::finish() {
  if (!lifecycle_.finish(*this)) return;
  timer_.cancel();
  pending_.clear();
}

}  // namespace switchboard::server
