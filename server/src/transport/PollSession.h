#pragma once
// One long-polling client (GET /poll): the last way in, for networks whose proxies hold a
// response until it ends (a WebSocket upgrade refused, a Server-Sent Events stream that never
// shows a byte). It is a connection like an SSE stream — it subscribes its rooms when it starts,
// keeps each room's position for its event ids, and pushes the same events — whose socket is
// absent between polls: what the node pushes waits in its queue, bounded like any connection's
// (--max-queue-bytes, then 4008), and each poll takes what is waiting, or is held until something
// comes or --poll-timeout passes. A poll names its session by the id the session's answers carry;
// the session lives --poll-grace between polls (presence counts it meanwhile), then leaves.
//
// Its state lives on the I/O thread of the HTTP connection that opened it, and everything that
// reaches it from elsewhere — polls read by other HTTP connections, on other threads; messages,
// closes, the dispatcher's work — goes through its strand `posts_`. A poll's answer is handed back
// to the HTTP connection that read it (Poll::respond), which writes it on its own thread.
// Documented in PROTOCOL.md ("Long-polling") and CONCURRENCY.md.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "admission/Admission.h"
#include "dispatch/Connection.h"
#include "switchboard/protocol/EventId.h"
#include "transport/ConnectionLifecycle.h"
#include "transport/SessionContext.h"
#include "transport/SseRequest.h"

namespace switchboard::server {

namespace net = boost::asio;

class PollSession final : public Connection, public std::enable_shared_from_this<PollSession> {
 public:
  // One poll: `respond` is given the answer's JSON body, once, on the session's thread, and
  // `written` (may be empty), which the HTTP connection calls, on its thread, once the answer is
  // written (or could not be).
  struct Poll {
    // The events of the session numbered below this the client has (?ack=): they are not
    // answered again. Absent: every event answered before.
    std::optional<std::uint64_t> ack;
    std::function<void(std::string body, std::function<void()> written)> respond;
    // Answered at once, with whatever waits: the poll that opens a session without rooms (one
    // with rooms gets their subscribed events soon), whose answer tells the client its session.
    bool at_once = false;
    // The HTTP connection it came on, which may tell that it was abandoned.
    const void* from = nullptr;
  };

  PollSession(const boost::asio::any_io_executor& executor, SessionContext& ctx, cluster::ConnectionId id,
              Admission::Admitted admitted, std::string session_id);

  const std::string& session_id() const { return session_id_; }

  // On the executor's thread, once: registers the session with the node (ctx.polls), opens the
  // connection, subscribes the rooms of `rooms` and takes the session's first poll.
  void start(SseRequest rooms, Poll first);
  // Any thread: a later poll of the session. A poll still held is answered (with no events) when
  // another comes: the newer one waits in its place.
  void take(Poll poll);
  // Any thread: the client ends the session (DELETE /poll): it leaves its rooms now, and a poll
  // still held is answered with what waits.
  void end();
  // Any thread: the client of the poll that came `from` an HTTP connection went away before its
  // answer: if it is still held, it is let go, and the grace starts.
  void abandon(const void* from);

  using Connection::deliver;
  void deliver(protocol::Payload frame, Clock::time_point at) override;
  void deliver_message(const protocol::Payload& frame, const std::string& room, std::uint64_t offset,
                       std::string_view epoch, Clock::time_point at) override;
  // A poller makes no request of its own: nothing is answered with a reply.
  void reply(std::string text) override;
  // The answers to the session's subscribes, queued as "subscribed" and "unsubscribed" events.
  void subscribed(const nlohmann::json& id, const std::string& room, const protocol::StreamPosition& position,
                  std::optional<bool> recovered) override;
  void unsubscribed(const nlohmann::json& id, const std::string& room, protocol::ErrorCode code,
                    std::string_view message) override;
  // Each through the strand posts_: a close (its close event, answered to the next poll, then
  // the session ends), a drop, a task (skipped once the session is gone).
  void shutdown(std::uint16_t code, std::string reason) override;
  void abort() override;
  void post(std::function<void()> fn) override;
  // "refresh" events before the token expires, then the close with 4001.
  void watch_token_expiry() override;

 private:
  struct RoomState {
    std::string name;
    bool presence = false;
    std::optional<protocol::StreamPosition> since;
    bool active = true;  // false once the node refused or ended it
  };
  struct Event {
    std::uint64_t seq;       // its number in the session, from 0
    std::string id;          // the event id (every room's position), empty for events without one
    protocol::Payload data;  // the push, JSON
  };

  void on_poll(Poll poll);
  // Queues one event; a poll held is answered two turns of the strand later, so that what is
  // queued meanwhile goes in the same answer.
  void enqueue(std::string event_id, protocol::Payload data);
  // Answers the poll held, if any, with every event not yet acknowledged.
  void answer();
  // An answer's JSON: the session, `next` (the number of the first event the answer does not
  // hold: the client's next ack), `events`.
  std::string body(const std::deque<Event>& events, std::uint64_t next) const;
  // The number of the first event not acknowledged (next_seq_ when none is queued).
  std::uint64_t unacknowledged() const;
  std::string event_id() const;
  void arm_grace();
  void begin_close(std::uint16_t code, std::string reason);
  void drop();

  net::strand<net::any_io_executor> posts_;
  SessionContext& ctx_;
  ConnectionSlot slot_;  // its place among the node's connections, taken at admission
  std::string session_id_;
  std::vector<RoomState> rooms_;
  protocol::RoomPositions positions_;  // by the same index: where each room stands (empty epoch: not yet)
  std::unordered_map<std::string, std::size_t> room_index_;  // room name → its index in both
  std::deque<Event> events_;  // queued and not yet acknowledged, oldest first
  std::uint64_t next_seq_ = 0;
  std::uint64_t answered_ = 0;    // events numbered below this went out in an answer
  std::size_t queued_bytes_ = 0;  // of events_
  std::optional<Poll> held_;      // the poll waiting for events
  bool answer_posted_ = false;
  bool close_queued_ = false;     // the close event is in events_: the next answer ends the session
  net::steady_timer poll_timer_;   // the held poll's --poll-timeout
  net::steady_timer grace_timer_;  // --poll-grace between polls
  ConnectionLifecycle lifecycle_;
};

}  // namespace switchboard::server
