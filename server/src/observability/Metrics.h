#pragma once
// The node's counters and gauges, rendered in Prometheus text format at GET /metrics.
#include <array>
#include <atomic>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "observability/Histogram.h"
#include "switchboard/cluster/Broker.h"
#include "switchboard/protocol/ErrorCode.h"

namespace switchboard::server {

class Metrics {
 public:
  using Counter = std::atomic<std::uint64_t>;

  Counter connections_opened{0};   // WebSockets and SSE streams
  Counter sse_streams_opened{0};
  Counter poll_sessions_opened{0};  // long-polling clients (GET /poll) accepted
  Counter polls{0};                 // polls taken by their session
  Counter polls_held{0};            // … of which held, nothing waiting for them when they came
  Counter poll_timeouts{0};         // held polls answered with no events at --poll-timeout
  Counter polls_relayed{0};         // polls read here for a session another node holds, relayed to it
  Counter polls_relayed_gone{0};    // … of which its holder did not have (or did not answer): a session opened here
  std::atomic<std::int64_t> connections_current{0};
  Counter http_requests{0};
  Counter frames_received{0};
  Counter bytes_received{0};
  Counter messages_published{0};
  Counter deliveries{0};         // frames queued to connections for delivery (messages and presence events)
  Counter frames_sent{0};
  Counter socket_writes{0};      // writes of frames or events to client sockets: frames_sent / socket_writes is the batching
  Counter bytes_sent{0};
  // permessage-deflate (transport/PerMessageDeflate.h).
  Counter deflated_frames_sent{0};          // WebSocket messages sent compressed
  Counter deflate_bytes_saved{0};           // … the bytes their compression saved
  Counter deflated_messages_received{0};    // messages clients sent compressed
  Counter slow_consumers{0};     // connections closed with 4008
  Counter write_timeouts{0};     // … of which cut because a write made no progress for --write-timeout
  Counter deliveries_dropped_slow_consumer{0};
  Counter deliveries_dropped_rate_limited{0};  // publishes refused rate_limited: messages never delivered
  Counter history_replies_truncated{0};  // history replies that left older messages out to fit the queue
  Counter recoveries_succeeded{0};  // subscribes with "since" answered "recovered":true
  Counter recoveries_failed{0};     // … answered "recovered":false
  // Webhooks (backend/Webhooks.h), counted over every URL.
  Counter webhook_events_queued{0};      // events taken into a URL's queue
  Counter webhook_events_delivered{0};   // … acknowledged with a 2xx by the URL
  Counter webhook_batches_delivered{0};  // POSTs answered with a 2xx
  Counter webhook_failures{0};           // POSTs that failed (no answer in time, or not a 2xx): retried
  Counter webhook_dropped_queue_full{0}; // events dropped: their URL's queue was full
  Counter webhook_dropped_gave_up{0};    // events dropped: retried for --webhook-retry-for in vain
  Counter webhook_dropped_rejected{0};   // events dropped: their batch was answered a 4xx (not 408, 429)
  std::atomic<std::int64_t> webhook_queue_events{0};  // events waiting or under way, every URL
  // The proxy to the application (backend/AppProxy.h): requests by route (subscribe, publish,
  // connect) and answer (allowed, denied, unavailable), and how long the application took to answer.
  Counter proxy_requests[3][3]{};
  Histogram proxy_seconds{{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}, 1e-9};

  // Bytes queued to a connection, observed as each write to it starts (and at a slow-consumer close).
  Histogram write_queue_bytes{{256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304}, 1};
  // Seconds from a frame being queued to a connection to the socket taking it.
  Histogram delivery_seconds{{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}, 1e-9};
  // Seconds from a publish request to the broker accepting it (in a cluster: Redis's answer).
  Histogram publish_seconds{{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}, 1e-9};

  void count_error(protocol::ErrorCode code);
  void count_close(std::uint16_t code);               // close codes the node sent
  void count_handshake_rejected(const std::string& reason);
  void count_api_request(std::string_view endpoint, unsigned status);  // HTTP API answers
  // POST /api/publish refused 429, by what was limited: "api_key", "user" or "address".
  void count_http_publish_rate_limited(std::string_view by);
  // HTTP requests refused before they were routed (route: see CrossOrigin::route).
  void count_http_refused(std::string_view route, std::string_view reason);

  std::uint64_t errors(protocol::ErrorCode code) const;
  std::uint64_t closes(std::uint16_t code) const;
  std::uint64_t handshakes_rejected(const std::string& reason) const;
  std::uint64_t api_requests(std::string_view endpoint, unsigned status) const;
  std::uint64_t http_publishes_rate_limited(std::string_view by) const;
  std::uint64_t http_refused(std::string_view route, std::string_view reason) const;
  // Every reason counted by count_handshake_rejected, with its count (the operator dashboard).
  std::map<std::string, std::uint64_t> handshakes_rejected_by_reason() const;

  // Gauges read at render time from the room registry, and the broker's connection state.
  std::string render(std::size_t rooms, std::size_t subscriptions, const cluster::Broker::Stats& broker) const;

 private:
  // The families counted by key under the lock: closes, refusals, API answers.
  void render_tallies(std::ostream& out) const;

  std::array<Counter, protocol::kErrorCodeCount> errors_{};
  mutable std::mutex mutex_;
  std::map<std::uint16_t, std::uint64_t> closes_;
  std::map<std::string, std::uint64_t> rejected_;
  std::map<std::pair<std::string, unsigned>, std::uint64_t, std::less<>> api_;
  std::map<std::string, std::uint64_t, std::less<>> http_publish_limited_;
  std::map<std::pair<std::string, std::string>, std::uint64_t, std::less<>> refused_;
};

}  // namespace switchboard::server
