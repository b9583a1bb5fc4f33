#include "transport/PollRelay.h"

#include "observability/Metrics.h"
#include "switchboard/cluster/RandomId.h"
#include "transport/PollSession.h"
#include "transport/PollSessions.h"

namespace switchboard::server {

namespace net = boost::asio;
using nlohmann::json;

namespace {

// Polls relayed from this node and not answered yet, at most: beyond, a poll opens a session here.
constexpr std::size_t kMaxRelayed = 65536;

std::optional<std::uint64_t> ref_of(const json& message) {
  auto it = message.find("ref");
  if (it == message.end() || !it->is_number_unsigned()) return std::nullopt;
  return it->get<std::uint64_t>();
}

std::string text_of(const json& message, const char* key) {
  auto it = message.find(key);
  return it != message.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

PollRelay::PollRelay(cluster::ControlChannel& channel, PollSessions& sessions, Metrics& metrics,
                     std::chrono::milliseconds poll_timeout)
    : channel_(channel), sessions_(sessions), metrics_(metrics), poll_timeout_(poll_timeout) {}

std::string PollRelay::new_session_id() const {
  const auto& node = channel_.node();
  return node.empty() ? cluster::random_id(16) : node + "-" + cluster::random_id(16);
}

std::optional<std::string> PollRelay::holder(std::string_view id) const {
  const auto& node = channel_.node();
  // Another node's name: as many hex digits as this node's (an id made up otherwise is not relayed).
  auto dash = id.find('-');
  if (node.empty() || dash != node.size()) return std::nullopt;
  auto holder = id.substr(0, dash);
  if (holder == node || holder.find_first_not_of("0123456789abcdef") != std::string_view::npos) return std::nullopt;
  return std::string(holder);
}

std::optional<std::uint64_t> PollRelay::relay(const net::any_io_executor& timers, const std::string& holder,
                                              const std::string& session, std::optional<std::uint64_t> ack,
                                              Respond respond, std::function<void()> gone) {
  std::uint64_t ref = 0;
  {
    std::lock_guard lock(mutex_);
    if (relayed_.size() >= kMaxRelayed) return std::nullopt;
    ref = ++next_ref_;
    relayed_.emplace(ref, Relayed{holder, false, std::move(respond), std::move(gone),
                                  std::make_shared<net::steady_timer>(timers)});
  }
  ++metrics_.polls_relayed;
  // The holder says it has the poll within the reply timeout, or it is not there.
  arm(ref, channel_.reply_timeout());
  channel_.tell(holder, json{{"op", "poll"}, {"session", session}, {"ack", ack ? json(*ack) : json()}, {"ref", ref}});
  return ref;
}

void PollRelay::arm(std::uint64_t ref, std::chrono::milliseconds after) {
  std::shared_ptr<net::steady_timer> deadline;
  {
    std::lock_guard lock(mutex_);
    auto it = relayed_.find(ref);
    if (it == relayed_.end()) return;
    deadline = it->second.deadline;
  }
  // The timer is used on its own executor only (the relaying HttpSession's thread). Armed again
  // (the holder said it has the poll): the handler of the earlier expiry, aborted or already on
  // its way, finds a later expiry and does nothing.
  net::post(deadline->get_executor(), [this, ref, after, deadline] {
    deadline->expires_after(after);
    deadline->async_wait([this, ref, deadline](boost::system::error_code ec) {
      if (ec || deadline->expiry() > std::chrono::steady_clock::now()) return;
      lose(ref);
    });
  });
}

std::optional<PollRelay::Relayed> PollRelay::take(std::uint64_t ref) {
  std::optional<Relayed> relayed;
  {
    std::lock_guard lock(mutex_);
    auto it = relayed_.find(ref);
    if (it == relayed_.end()) return std::nullopt;
    relayed = std::move(it->second);
    relayed_.erase(it);
  }
  // Its deadline is done with (on the timer's own executor, as every use of it).
  net::post(relayed->deadline->get_executor(), [deadline = relayed->deadline] { deadline->cancel(); });
  return relayed;
}

void PollRelay::lose(std::uint64_t ref) {
  auto relayed = take(ref);
  if (!relayed) return;
  ++metrics_.polls_relayed_gone;
  // A holder that had the poll and did not answer in time lets it go (its session's grace starts):
  // the client has a session here from now on.
  if (relayed->held) channel_.tell(relayed->holder, json{{"op", "poll-abandon"}, {"ref", ref}});
  relayed->gone();
}

void PollRelay::abandon(std::uint64_t ref) {
  if (auto relayed = take(ref)) channel_.tell(relayed->holder, json{{"op", "poll-abandon"}, {"ref", ref}});
}

void PollRelay::end(const std::string& holder, const std::string& session) {
  channel_.tell(holder, json{{"op", "poll-end"}, {"session", session}});
}

void PollRelay::told(const std::string& from, const json& message, std::string_view payload) {
  auto op = text_of(message, "op");
  if (op == "poll") return hold(from, message);
  if (op == "poll-end") {
    if (auto session = sessions_.find(text_of(message, "session"))) session->end();
    return;
  }
  auto ref = ref_of(message);
  if (!ref) return;
  if (op == "poll-abandon") {
    std::unique_ptr<Holding> holding;
    {
      std::lock_guard lock(mutex_);
      auto it = holding_.find({from, *ref});
      if (it == holding_.end()) return;  // answered already
      holding = std::move(it->second);
      holding_.erase(it);
    }
    if (auto session = holding->session.lock()) session->abandon(holding.get());
    return;
  }
  // The holder's word on a poll this node relayed.
  {
    std::lock_guard lock(mutex_);
    auto it = relayed_.find(*ref);
    if (it == relayed_.end() || it->second.holder != from) return;
    if (op == "poll-held") it->second.held = true;
  }
  if (op == "poll-held") {
    // The holder answers within --poll-timeout (its timer) and the time for the answer to come
    // (together below the 30 s a proxy commonly allows a response, with the defaults: 28 s).
    arm(*ref, poll_timeout_ + channel_.reply_timeout());
  } else if (op == "poll-answer") {
    if (auto relayed = take(*ref)) relayed->respond(std::string(payload), {});
  } else if (op == "poll-gone") {
    lose(*ref);
  }
}

void PollRelay::hold(const std::string& from, const json& message) {
  auto ref = ref_of(message);
  if (!ref) return;
  auto session = sessions_.find(text_of(message, "session"));
  if (!session) {
    channel_.tell(from, json{{"op", "poll-gone"}, {"ref", *ref}});
    return;
  }
  std::optional<std::uint64_t> ack;
  if (auto it = message.find("ack"); it != message.end() && it->is_number_unsigned()) ack = it->get<std::uint64_t>();
  auto holding = std::make_unique<Holding>();
  holding->session = session;
  const void* token = holding.get();
  {
    std::lock_guard lock(mutex_);
    holding_[{from, *ref}] = std::move(holding);
  }
  // Said before the poll is given to the session, so that the answer (which may come at once)
  // follows it on the channel.
  channel_.tell(from, json{{"op", "poll-held"}, {"ref", *ref}});
  session->take({ack,
                 [this, from, ref = *ref](std::string body, const std::function<void()>& written) {
                   {
                     std::lock_guard lock(mutex_);
                     holding_.erase({from, ref});
                   }
                   channel_.tell(from, json{{"op", "poll-answer"}, {"ref", ref}}, body);
                   if (written) written();
                 },
                 false, token});
}

}  // namespace switchboard::server
