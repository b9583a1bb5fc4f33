#pragma once
// Long-polling without stickiness: a poll (or a DELETE /poll) that one node of a cluster reads
// for a session another node holds is relayed to that node over the control channel
// (cluster::ControlChannel::tell); the holder gives its session the poll and sends the answer
// back, and the node that read the poll writes it. The client sees one session wherever its
// polls land. A session id names its holder: "<node>-<random>" (node: the control channel's
// node(), 16 hex digits; a node alone gives bare random ids, and relays nothing).
//
//   to the holder     {"op":"poll","session":S,"ack":N|null,"ref":R}  a poll;
//                     {"op":"poll-abandon","ref":R}                   its client went away;
//                     {"op":"poll-end","session":S}                   DELETE /poll
//   from the holder   {"op":"poll-held","ref":R}                      at once: it has the poll;
//                     {"op":"poll-answer","ref":R}, the body as payload  its answer, once;
//                     {"op":"poll-gone","ref":R}                      it has no such session
//
// A poll the holder does not know the session of, or does not say it has within the channel's
// reply timeout (the node is gone), or does not answer within --poll-timeout and that timeout
// again (the holder is then told to let it go), is `gone`: the node that read it opens a session of its own for it, resuming from the
// poll's last event id, as for a first poll. Counted in switchboard_polls_relayed_total and
// switchboard_polls_relayed_gone_total. PROTOCOL.md ("Long-polling"), CONCURRENCY.md.
//
// Thread-safe: one mutex, a leaf (the callbacks and the sessions are called after it is let go).
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "switchboard/cluster/ControlChannel.h"

namespace switchboard::server {

class Metrics;
class PollSession;
class PollSessions;

class PollRelay {
 public:
  // A poll's answer (as PollSession::Poll::respond).
  using Respond = std::function<void(std::string body, std::function<void()> written)>;

  PollRelay(cluster::ControlChannel& channel, PollSessions& sessions, Metrics& metrics,
            std::chrono::milliseconds poll_timeout);

  // The id of a session this node opens.
  std::string new_session_id() const;
  // The node holding session `id` when it is another node of the cluster, which polls are relayed to.
  std::optional<std::string> holder(std::string_view id) const;

  // Relays a poll of `session` to `holder`. Either `respond` gets its answer or `gone` is called
  // (once, one of the two, on any thread, possibly before relay() returns), unless abandon() comes
  // first. Returns the poll's reference, for abandon(); none when the node relays too many polls
  // already (neither callback is then called: the caller opens a session itself). `timers` runs
  // its deadline.
  std::optional<std::uint64_t> relay(const boost::asio::any_io_executor& timers, const std::string& holder,
                                     const std::string& session, std::optional<std::uint64_t> ack, Respond respond,
                                     std::function<void()> gone);
  // The client of relayed poll `ref` went away: the holder lets the poll go.
  void abandon(std::uint64_t ref);
  // DELETE /poll of a session another node holds.
  void end(const std::string& holder, const std::string& session);

  // What another node told this one (the control channel's listener).
  void told(const std::string& from, const nlohmann::json& message, std::string_view payload);

 private:
  // On the node that read a poll: a poll relayed, until its answer.
  struct Relayed {
    std::string holder;
    bool held = false;  // the holder said it has the poll
    Respond respond;
    std::function<void()> gone;
    std::shared_ptr<boost::asio::steady_timer> deadline;
  };
  // On the holder: a poll relayed to it and given to its session, until answered. Its address is
  // the poll's `from`, which the session compares when the poll is abandoned.
  struct Holding {
    std::weak_ptr<PollSession> session;
  };

  void arm(std::uint64_t ref, std::chrono::milliseconds after);
  // Relayed poll `ref`, taken out (its deadline cancelled), when it is still waiting; what it
  // holds is released after the lock is let go.
  std::optional<Relayed> take(std::uint64_t ref);
  // Ends relayed poll `ref` with `gone` (when it is still waiting).
  void lose(std::uint64_t ref);
  void hold(const std::string& from, const nlohmann::json& message);

  cluster::ControlChannel& channel_;
  PollSessions& sessions_;
  Metrics& metrics_;
  const std::chrono::milliseconds poll_timeout_;

  std::mutex mutex_;
  std::uint64_t next_ref_ = 0;
  std::unordered_map<std::uint64_t, Relayed> relayed_;
  std::map<std::pair<std::string, std::uint64_t>, std::unique_ptr<Holding>> holding_;  // by (from, ref)
};

}  // namespace switchboard::server
