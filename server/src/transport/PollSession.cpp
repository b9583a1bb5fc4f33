#include "transport/PollSession.h"

#include <nlohmann/json.hpp>

#include "switchboard/protocol/CloseCode.h"
#include "switchboard/protocol/Messages.h"
#include "switchboard/server/Log.h"
#include "transport/PollSessions.h"

namespace switchboard::server {

PollSession::PollSession(const net::any_io_executor& executor, SessionContext& ctx, cluster::ConnectionId id,
                         Admission::Admitted admitted, std::string session_id)
    : Connection(id, std::move(admitted.identity), TokenBucket(ctx.config.publish_rate, ctx.config.publish_burst),
                 TokenBucket(ctx.config.request_rate, ctx.config.request_burst)),
      posts_(executor),
      ctx_(ctx),
      slot_(std::move(admitted.slot)),
      session_id_(std::move(session_id)),
      poll_timer_(posts_),
      grace_timer_(posts_),
      lifecycle_(ctx, "poll session") {}

void PollSession::start(SseRequest rooms, Poll first) {
  for (auto& room : rooms.rooms) {
    room_index_.emplace(room.name, rooms_.size());
    rooms_.push_back({std::move(room.name), room.presence, std::move(room.since), true});
    positions_.emplace_back(rooms_.back().name, protocol::StreamPosition{});
  }
  auto self = shared_from_this();
  ctx_.polls.add(session_id_, self);
  ++ctx_.metrics.poll_sessions_opened;
  lifecycle_.open(self);
  for (std::size_t i = 0; i < rooms_.size() && !lifecycle_.closing(); ++i)
    ctx_.dispatcher.subscribe_on_behalf(self, rooms_[i].name, rooms_[i].presence, rooms_[i].since);
  // Through the strand, like every later poll: behind what the opening queued there.
  take(std::move(first));
}

void PollSession::take(Poll poll) {
  net::post(posts_, [self = shared_from_this(), poll = std::move(poll)]() mutable { self->on_poll(std::move(poll)); });
}

void PollSession::on_poll(Poll poll) {
  ++ctx_.metrics.polls;
  if (held_) {
    // The client polls again before the last poll was answered (it gave up on it): that one is
    // answered with no events, and this one waits in its place.
    poll_timer_.cancel();
    auto earlier = std::exchange(held_, std::nullopt);
    earlier->respond(body({}, unacknowledged()), {});
  }
  if (lifecycle_.finished()) {
    // Ended between the poll's lookup and now: an answer without events; the next poll, under
    // an id the node no longer knows, starts a session again.
    return poll.respond(body({}, next_seq_), {});
  }
  grace_timer_.cancel();
  // The events the client has are let go; those from `ack` on are answered (again).
  std::uint64_t ack = std::min(poll.ack.value_or(answered_), next_seq_);
  while (!events_.empty() && events_.front().seq < ack) {
    queued_bytes_ -= events_.front().id.size() + events_.front().data->size();
    events_.pop_front();
  }
  held_ = std::move(poll);
  if (!events_.empty() || held_->at_once) return answer();
  ++ctx_.metrics.polls_held;
  poll_timer_.expires_after(ctx_.config.poll_timeout);
  poll_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    // A handler already on its way when a newer poll re-armed the timer finds a later expiry.
    if (ec || !self->held_ || self->poll_timer_.expiry() > std::chrono::steady_clock::now()) return;
    ++self->ctx_.metrics.poll_timeouts;
    self->answer();
  });
}

std::uint64_t PollSession::unacknowledged() const { return events_.empty() ? next_seq_ : events_.front().seq; }

std::string PollSession::body(const std::deque<Event>& events, std::uint64_t next) const {
  // {"session":…,"next":…,"events":[{"id":…,"data":…},…]}: the pushes are JSON already.
  std::string out = R"({"session":")" + session_id_ + R"(","next":)" + std::to_string(next) + R"(,"events":[)";
  bool first = true;
  for (const auto& event : events) {
    if (!first) out += ',';
    first = false;
    out += '{';
    if (!event.id.empty()) out.append(R"("id":)").append(nlohmann::json(event.id).dump()).append(",");
    out.append(R"("data":)").append(*event.data).append("}");
  }
  out += "]}";
  return out;
}

void PollSession::answer() {
  answer_posted_ = false;
  if (!held_) return;
  poll_timer_.cancel();
  auto poll = std::exchange(held_, std::nullopt);
  std::string text = body(events_, next_seq_);
  ctx_.metrics.frames_sent += next_seq_ - answered_;
  ++ctx_.metrics.socket_writes;
  ctx_.metrics.bytes_sent += text.size();
  answered_ = next_seq_;
  if (!close_queued_) {
    poll->respond(std::move(text), {});
    if (!lifecycle_.finished()) arm_grace();
    return;
  }
  // The close event goes out: the session is over once it is written (the close deadline cuts
  // it meanwhile if the write does not end).
  poll->respond(std::move(text), [self = shared_from_this()] { net::post(self->posts_, [self] { self->drop(); }); });
}

void PollSession::arm_grace() {
  grace_timer_.expires_after(ctx_.config.poll_grace);
  grace_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    // A handler already on its way when a poll came and the grace began again finds a later expiry.
    if (ec || self->held_ || self->lifecycle_.finished() ||
        self->grace_timer_.expiry() > std::chrono::steady_clock::now())
      return;
    log::info("poll session " + std::to_string(self->id()) + " (" + self->identity().user + "): no poll for " +
              std::to_string(self->ctx_.config.poll_grace.count()) + " s, gone");
    self->drop();
  });
}

std::string PollSession::event_id() const { return protocol::format_event_id(positions_); }

void PollSession::reply(std::string) {}

void PollSession::subscribed(const nlohmann::json&, const std::string& room, const protocol::StreamPosition& position,
                             std::optional<bool> recovered) {
  auto it = room_index_.find(room);
  if (it == room_index_.end()) return;
  // Recovered: the missed messages follow and move the position on from where the client was.
  positions_[it->second].second = recovered.value_or(false) ? *rooms_[it->second].since : position;
  enqueue(event_id(), protocol::subscribed_push(room, position, recovered));
}

void PollSession::unsubscribed(const nlohmann::json&, const std::string& room, protocol::ErrorCode code,
                               std::string_view message) {
  auto it = room_index_.find(room);
  if (it == room_index_.end()) return;
  rooms_[it->second].active = false;
  positions_[it->second].second = {};
  enqueue({}, protocol::unsubscribed_push(room, code, message));
}

void PollSession::deliver(protocol::Payload frame, Clock::time_point) {
  net::post(posts_, [self = shared_from_this(), frame = std::move(frame)]() mutable {
    self->enqueue({}, std::move(frame));
  });
}

void PollSession::deliver_message(const protocol::Payload& frame, const std::string& room, std::uint64_t offset,
                                  std::string_view epoch, Clock::time_point) {
  net::post(posts_, [self = shared_from_this(), frame, room, offset, epoch = std::string(epoch)] {
    auto it = self->room_index_.find(room);
    if (it == self->room_index_.end() || !self->rooms_[it->second].active) return;
    self->positions_[it->second].second = {offset, epoch};
    self->enqueue(self->event_id(), frame);
  });
}

void PollSession::enqueue(std::string event_id, protocol::Payload data) {
  if (!lifecycle_.live()) return;
  queued_bytes_ += event_id.size() + data->size();
  events_.push_back({next_seq_++, std::move(event_id), std::move(data)});
  // Queued and not yet acknowledged: a client that stops polling, or never acknowledges, is a
  // slow consumer like any other.
  if (lifecycle_.overflowing(*this, queued_bytes_, events_.size()))
    return begin_close(protocol::close_code::slow_consumer, "slow consumer");
  if (held_ && !answer_posted_) {
    // Two turns of the strand later: what the task running now goes on handing over (a
    // subscribe's recovered messages, posted one by one after its subscribed event) goes in
    // the same answer.
    answer_posted_ = true;
    net::post(posts_, [self = shared_from_this()] { net::post(self->posts_, [self] { self->answer(); }); });
  }
}

void PollSession::shutdown(std::uint16_t code, std::string reason) {
  net::post(posts_, [self = shared_from_this(), code, reason = std::move(reason)]() mutable {
    self->begin_close(code, std::move(reason));
  });
}

void PollSession::end() {
  net::post(posts_, [self = shared_from_this()] {
    if (!self->lifecycle_.finished())
      log::debug("poll session " + std::to_string(self->id()) + " (" + self->identity().user + ") ended by its client");
    self->drop();
  });
}

void PollSession::abandon(const void* from) {
  net::post(posts_, [self = shared_from_this(), from] {
    if (!self->held_ || self->held_->from != from || self->lifecycle_.finished()) return;
    self->poll_timer_.cancel();
    self->held_.reset();
    self->arm_grace();
  });
}

void PollSession::abort() {
  net::post(posts_, [self = shared_from_this()] { self->drop(); });
}

void PollSession::post(std::function<void()> fn) {
  net::post(posts_, [self = shared_from_this(), fn = std::move(fn)] {
    if (!self->lifecycle_.finished()) fn();
  });
}

void PollSession::watch_token_expiry() {
  lifecycle_.watch_token(
      posts_, *this, shared_from_this(), [this](std::int64_t exp) { enqueue({}, protocol::refresh_push(exp)); },
      [this](std::uint16_t code, std::string reason) { begin_close(code, std::move(reason)); });
}

void PollSession::begin_close(std::uint16_t code, std::string reason) {
  // A client that does not poll again never takes the close event: the lifecycle ends the
  // session after --close-timeout.
  if (!lifecycle_.begin_close(posts_, weak_from_this(), [this] { drop(); })) return;
  ctx_.metrics.count_close(code);
  if (code == protocol::close_code::slow_consumer) {
    // What was queued is dropped, as for any slow consumer.
    ctx_.metrics.deliveries_dropped_slow_consumer += events_.size();
    events_.clear();
    queued_bytes_ = 0;
  }
  auto close = protocol::close_push(code, reason);
  queued_bytes_ += close->size();
  events_.push_back({next_seq_++, {}, std::move(close)});
  close_queued_ = true;
  if (held_) answer();
}

void PollSession::drop() {
  if (!lifecycle_.finish(*this)) return;
  poll_timer_.cancel();
  grace_timer_.cancel();
  // A poll still held gets what is there: its HTTP connection is not left waiting.
  if (held_) std::exchange(held_, std::nullopt)->respond(body(events_, next_seq_), {});
  events_.clear();
  queued_bytes_ = 0;
  ctx_.polls.remove(session_id_);
}

}  // namespace switchboard::server
