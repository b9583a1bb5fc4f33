#pragma once
// Signed webhooks: the node's events (a room occupied or vacated, a member added or removed, a
// connection opened or closed, a message published) POSTed to the application's backends
// (--webhook-url) in JSON batches, {"events":[…]}, each batch signed with HMAC-SHA256 over its
// timestamp and body (X-Switchboard-Timestamp, X-Switchboard-Signature: v1=<hex>).
//
// At least once: each URL has a bounded queue (--webhook-queue-size events; a full queue drops
// and counts); one batch per URL is under way at a time, retried after a failure with capped
// exponential backoff and full jitter until it has failed for --webhook-retry-for (then dropped
// and counted). The events are taken from any thread under a short lock; everything else runs on
// a strand of I/O thread 0 with the HttpClient: no I/O thread ever waits for a backend.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "backend/HttpClient.h"
#include "backend/WebhookFilter.h"
#include "observability/Metrics.h"
#include "switchboard/cluster/ConnectionId.h"
#include "switchboard/protocol/Payload.h"
#include "switchboard/server/Config.h"

namespace switchboard::server {

class Webhooks {
 public:
  // Events in one POST at most.
  static constexpr std::size_t kMaxBatch = 100;
  // A batch's events' bytes at most (a single larger event goes alone), and a URL's queue's: past
  // it, events are dropped as for a full queue.
  static constexpr std::size_t kMaxBatchBytes = 1 << 20;
  static constexpr std::size_t kMaxQueueBytes = 64 << 20;
  // The backoff between a batch's attempts: a random delay up to min(kBackoffCap, kBackoffBase × 2^(attempt-1)).
  static constexpr std::chrono::milliseconds kBackoffBase{100};
  static constexpr std::chrono::milliseconds kBackoffCap{30000};

  // Throws std::invalid_argument for a bad --webhook-events (validate() has checked it).
  Webhooks(const Config& config, Metrics& metrics);
  ~Webhooks();
  Webhooks(const Webhooks&) = delete;
  Webhooks& operator=(const Webhooks&) = delete;

  // Whether any URL is configured: without one, every event below is ignored at once.
  bool enabled() const { return !config_.webhook_urls.empty(); }
  // Makes the strand and the HTTP client on `ioc` (I/O thread 0). Throws when the CA file fails.
  void start(boost::asio::io_context& ioc);
  // Sends what is queued for up to `grace` (a node that stops gracefully tells the last leaves of
  // its users: no other node will), then stops sending: what is still queued then is not sent.
  // From the main thread, before the io_contexts stop.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(0));

  // The events, from any thread; none waits for more than a short lock.
  void connection_opened(cluster::ConnectionId id, const std::string& user);
  void connection_closed(cluster::ConnectionId id, const std::string& user);
  bool wants_publication(const std::string& room) const;
  // A message `from` published to `room` was accepted at `offset`; `data` its JSON text.
  void message_published(const std::string& room, std::string_view from, std::uint64_t offset, std::string_view data);
  // A presence store's join or leave event (the store's lock held: a room's events in order), on a
  // single node (a cluster's nodes each hear every event: member_changed tells them there):
  // member_added or member_removed, and room_occupied before the first member, room_vacated
  // after the last.
  void presence_changed(const std::string& room, const protocol::Payload& event);

  // In a cluster, from the shared presence store, once for the cluster (PresenceStore::MemberHandler):
  // member_added or member_removed, with room_occupied before or room_vacated after at the room's edge.
  void member_changed(const std::string& room, const std::string& user, const std::string& info, bool added,
                      bool room_edge);

  // A batch's X-Switchboard-Signature: "v1=" + hex of HMAC-SHA256(secret, timestamp + "." + body).
  static std::string signature(std::string_view secret, std::string_view timestamp, std::string_view body);
  // The headers of a signed JSON request to a backend (a batch, a proxy call): Content-Type, and
  // X-Switchboard-Timestamp (now) and X-Switchboard-Signature over it and `body`.
  static std::vector<std::pair<std::string, std::string>> signed_headers(std::string_view secret, std::string_view body);

 private:
  struct Target;
  using Clock = std::chrono::steady_clock;

  // Starts an event of `kind`: its id, type and time.
  nlohmann::json event(WebhookKind kind);
  // Queues an event's JSON text to every URL (dropped, counted, where a queue is full).
  void emit(const std::string& text);
  // On the strand: tops up the target's batch from its queue and sends it, unless one is under way.
  void pump(Target& target);
  void send(Target& target);
  void answered(Target& target, const HttpClient::Response& response);
  // The batch is over (delivered, refused or given up): its events leave the queue's count, then
  // `outcome` counts them — in that order, so that whoever reads an outcome's count reads a
  // queue without them.
  void settle(Target& target, Metrics::Counter& outcome);

  const Config& config_;
  Metrics& metrics_;
  WebhookFilter filter_;
  std::string node_;  // a random prefix of this node's event ids
  std::atomic<std::uint64_t> sequence_{0};
  std::vector<std::unique_ptr<Target>> targets_;
  std::optional<boost::asio::strand<boost::asio::io_context::executor_type>> strand_;
  std::shared_ptr<HttpClient> client_;
  std::mt19937_64 random_;  // the backoff's jitter, on the strand
  std::atomic<bool> running_{false};
  // Told by settle() when a batch is over: stop() waits on it for the queues to empty.
  std::mutex drained_mutex_;
  std::condition_variable drained_;
  // Members per room, from the presence events (room_occupied, room_vacated); a leaf lock.
  std::mutex members_mutex_;
  std::unordered_map<std::string, std::size_t> members_;
};

}  // namespace switchboard::server
