#include "observability/Metrics.h"

#include <sstream>

namespace switchboard::server {

void Metrics::count_error(protocol::ErrorCode code) { ++errors_[static_cast<std::size_t>(code)]; }

void Metrics::count_close(std::uint16_t code) {
  std::lock_guard lock(mutex_);
  ++closes_[code];
}

void Metrics::count_handshake_rejected(const std::string& reason) {
  std::lock_guard lock(mutex_);
  ++rejected_[reason];
}

void Metrics::count_api_request(std::string_view endpoint, unsigned status) {
  std::lock_guard lock(mutex_);
  ++api_[{std::string(endpoint), status}];
}

void Metrics::count_http_refused(std::string_view route, std::string_view reason) {
  std::lock_guard lock(mutex_);
  ++refused_[{std::string(route), std::string(reason)}];
}

std::uint64_t Metrics::http_refused(std::string_view route, std::string_view reason) const {
  std::lock_guard lock(mutex_);
  auto it = refused_.find(std::pair<std::string, std::string>(route, reason));
  return it == refused_.end() ? 0 : it->second;
}

std::uint64_t Metrics::api_requests(std::string_view endpoint, unsigned status) const {
  std::lock_guard lock(mutex_);
  auto it = api_.find(std::pair<std::string, unsigned>(endpoint, status));
  return it == api_.end() ? 0 : it->second;
}

void Metrics::count_http_publish_rate_limited(std::string_view by) {
  std::lock_guard lock(mutex_);
  ++http_publish_limited_[std::string(by)];
}

std::uint64_t Metrics::http_publishes_rate_limited(std::string_view by) const {
  std::lock_guard lock(mutex_);
  auto it = http_publish_limited_.find(by);
  return it == http_publish_limited_.end() ? 0 : it->second;
}

std::uint64_t Metrics::errors(protocol::ErrorCode code) const {
  return errors_[static_cast<std::size_t>(code)].load();
}

std::uint64_t Metrics::closes(std::uint16_t code) const {
  std::lock_guard lock(mutex_);
  auto it = closes_.find(code);
  return it == closes_.end() ? 0 : it->second;
}

std::uint64_t Metrics::handshakes_rejected(const std::string& reason) const {
  std::lock_guard lock(mutex_);
  auto it = rejected_.find(reason);
  return it == rejected_.end() ? 0 : it->second;
}

std::map<std::string, std::uint64_t> Metrics::handshakes_rejected_by_reason() const {
  std::lock_guard lock(mutex_);
  return rejected_;
}

namespace {
void family(std::ostream& out, const char* name, const char* type, const char* help) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
}
// A metric family with one unlabelled sample.
template <class T>
void single(std::ostream& out, const char* name, const char* type, const char* help, T value) {
  family(out, name, type, help);
  out << name << ' ' << value << '\n';
}
// One sample of a labelled family: name{label="value"} n.
template <class V>
void sample(std::ostream& out, const char* name, const char* label, const V& value, std::uint64_t n) {
  out << name << '{' << label << "=\"" << value << "\"} " << n << '\n';
}
// One sample of a family with two labels.
template <class V, class W>
void sample(std::ostream& out, const char* name, const char* label, const V& value, const char* label2,
            const W& value2, std::uint64_t n) {
  out << name << '{' << label << "=\"" << value << "\"," << label2 << "=\"" << value2 << "\"} " << n << '\n';
}

// Redis's connection in a cluster; the embedded history's budget on a single node.
void render_broker(std::ostream& out, const cluster::Broker::Stats& broker) {
  single(out, "switchboard_publish_duplicates_total", "counter",
         "Publishes whose idem key was known (a retry within --idempotency-window): answered with the first "
         "publish's offset, not delivered again.",
         broker.duplicate_publishes);
  if (broker.clustered) {
    single(out, "switchboard_redis_up", "gauge",
           "1 while the node's connections to Redis are up and its rooms subscribed, else 0.", broker.connected ? 1 : 0);
    single(out, "switchboard_redis_reconnects_total", "counter",
           "Connections to Redis made again after one was lost or failed.", broker.reconnects);
    single(out, "switchboard_redis_replica_waits_short_total", "counter",
           "Publish batches whose WAIT (--redis-wait-replicas) found fewer replicas than asked in time: "
           "their publishers heard unavailable.",
           broker.replica_waits_short);
    single(out, "switchboard_redis_stale_messages_total", "counter",
           "Messages a room's channel brought with an offset this node had already delivered (after a "
           "failover to a replica that lacked the room's latest messages): not delivered again.",
           broker.stale_messages);
    return;
  }
  single(out, "switchboard_history_bytes", "gauge",
         "Bytes of messages kept in the rooms' histories, within --history-max-bytes.", broker.history_bytes);
  family(out, "switchboard_history_evictions_total", "counter",
         "Messages dropped from the history before their room's size or time to live, by reason.");
  sample(out, "switchboard_history_evictions_total", "reason", "max_bytes", broker.history_evictions);
}

// A counter's family: its name, help, and the member holding it.
struct CounterFamily {
  const char* name;
  const char* help;
  const Metrics::Counter Metrics::*value;
};
const CounterFamily kTrafficCounters[] = {
    {"switchboard_http_requests_total", "HTTP requests read, upgrades included.", &Metrics::http_requests},
    {"switchboard_frames_received_total", "WebSocket messages received from clients.", &Metrics::frames_received},
    {"switchboard_received_bytes_total", "Payload bytes received from clients.", &Metrics::bytes_received},
    {"switchboard_messages_published_total", "Publishes the node took and handed to the broker, from connections and from the HTTP API (those the broker then refused as unavailable included).", &Metrics::messages_published},
    {"switchboard_deliveries_total", "Messages and events queued to local connections.", &Metrics::deliveries},
    {"switchboard_frames_sent_total", "WebSocket messages written to clients.", &Metrics::frames_sent},
    {"switchboard_socket_writes_total", "Writes of messages to client sockets; each carries one or more messages.", &Metrics::socket_writes},
    {"switchboard_sent_bytes_total", "Payload bytes written to clients.", &Metrics::bytes_sent},
    {"switchboard_deflate_frames_sent_total", "WebSocket messages written compressed (permessage-deflate).", &Metrics::deflated_frames_sent},
    {"switchboard_deflate_saved_bytes_total", "Bytes that permessage-deflate saved on the messages written compressed.", &Metrics::deflate_bytes_saved},
    {"switchboard_deflate_frames_received_total", "WebSocket messages received compressed (permessage-deflate).", &Metrics::deflated_messages_received},
};

// Connections, rooms, and the messages and bytes that went through.
void render_traffic(std::ostream& out, const Metrics& m, std::size_t rooms, std::size_t subscriptions) {
  single(out, "switchboard_connections", "gauge", "Open connections: WebSockets, Server-Sent Events streams and long-polling sessions.", m.connections_current.load());
  single(out, "switchboard_connections_opened_total", "counter",
         "Connections accepted: WebSockets, Server-Sent Events streams and long-polling sessions.", m.connections_opened.load());
  single(out, "switchboard_sse_streams_opened_total", "counter", "Server-Sent Events streams (GET /sse) accepted.",
         m.sse_streams_opened.load());
  single(out, "switchboard_poll_sessions_opened_total", "counter",
         "Long-polling sessions (GET /poll without a session the node knows) accepted.", m.poll_sessions_opened.load());
  single(out, "switchboard_polls_total", "counter", "Polls (GET /poll) taken by their session.", m.polls.load());
  single(out, "switchboard_polls_held_total", "counter",
         "Polls held because nothing was waiting for them when they came.", m.polls_held.load());
  single(out, "switchboard_poll_timeouts_total", "counter",
         "Held polls answered with no events after --poll-timeout.", m.poll_timeouts.load());
  single(out, "switchboard_polls_relayed_total", "counter",
         "Polls read by this node for a session another node of the cluster holds, relayed to that node.",
         m.polls_relayed.load());
  single(out, "switchboard_polls_relayed_gone_total", "counter",
         "Relayed polls whose node did not have the session or did not answer in time: a session was opened here.",
         m.polls_relayed_gone.load());
  single(out, "switchboard_rooms", "gauge", "Rooms with at least one local subscriber.", rooms);
  single(out, "switchboard_subscriptions", "gauge", "Local room subscriptions.", subscriptions);
  for (const auto& counter : kTrafficCounters) single(out, counter.name, "counter", counter.help, (m.*counter.value).load());
}

// What went wrong or was cut short: slow consumers, truncated and failed recoveries, dropped
// deliveries, error replies; and the latency histograms.
void render_outcomes(std::ostream& out, const Metrics& m) {
  single(out, "switchboard_slow_consumers_total", "counter",
         "Connections closed because they read too slowly.", m.slow_consumers.load());
  single(out, "switchboard_write_timeouts_total", "counter",
         "Connections cut because a write to them stayed under way for --write-timeout (also counted as slow consumers).",
         m.write_timeouts.load());
  single(out, "switchboard_history_replies_truncated_total", "counter",
         "History replies that left their oldest messages out to fit half of the connection's queue limit.",
         m.history_replies_truncated.load());
  family(out, "switchboard_recoveries_total", "counter",
         "Subscribes that asked to recover missed messages, by whether the history reached back.");
  sample(out, "switchboard_recoveries_total", "result", "recovered", m.recoveries_succeeded.load());
  sample(out, "switchboard_recoveries_total", "result", "not_recovered", m.recoveries_failed.load());
  family(out, "switchboard_deliveries_dropped_total", "counter", "Deliveries dropped, by reason.");
  sample(out, "switchboard_deliveries_dropped_total", "reason", "slow_consumer", m.deliveries_dropped_slow_consumer.load());
  sample(out, "switchboard_deliveries_dropped_total", "reason", "rate_limited", m.deliveries_dropped_rate_limited.load());
  m.write_queue_bytes.render(out, "switchboard_write_queue_bytes", "Bytes queued to a connection as each write to it starts, and as it is closed as a slow consumer.");
  m.delivery_seconds.render(out, "switchboard_delivery_seconds",
                            "Seconds from a frame being queued to a connection to its socket taking it.");
  m.publish_seconds.render(out, "switchboard_publish_seconds",
                           "Seconds from a publish, a connection's or the HTTP API's, to the broker accepting it (in a cluster, Redis).");
  family(out, "switchboard_request_errors_total", "counter", "Error replies sent, by code.");
  for (auto code : protocol::all_error_codes())
    sample(out, "switchboard_request_errors_total", "code", protocol::to_string(code), m.errors(code));
}

// The webhooks' deliveries, failures and drops.
void render_webhooks(std::ostream& out, const Metrics& m) {
  single(out, "switchboard_webhook_queue_events", "gauge",
         "Webhook events waiting for delivery or under way, every URL's together.", m.webhook_queue_events.load());
  single(out, "switchboard_webhook_events_queued_total", "counter", "Webhook events queued, once per URL.",
         m.webhook_events_queued.load());
  single(out, "switchboard_webhook_events_delivered_total", "counter",
         "Webhook events delivered: their batch was answered with a 2xx.", m.webhook_events_delivered.load());
  single(out, "switchboard_webhook_batches_delivered_total", "counter", "Webhook POSTs answered with a 2xx.",
         m.webhook_batches_delivered.load());
  single(out, "switchboard_webhook_failures_total", "counter",
         "Webhook POSTs that failed (no answer within --webhook-timeout-ms, or not a 2xx); each is retried.",
         m.webhook_failures.load());
  family(out, "switchboard_webhook_events_dropped_total", "counter",
         "Webhook events dropped, by reason: queue_full (--webhook-queue-size, or 64 MiB of events), gave_up "
         "(--webhook-retry-for), rejected (their batch answered a 4xx other than 408 and 429).");
  sample(out, "switchboard_webhook_events_dropped_total", "reason", "queue_full", m.webhook_dropped_queue_full.load());
  sample(out, "switchboard_webhook_events_dropped_total", "reason", "gave_up", m.webhook_dropped_gave_up.load());
  sample(out, "switchboard_webhook_events_dropped_total", "reason", "rejected", m.webhook_dropped_rejected.load());
}

// The proxy's calls to the application, by route and answer, and their time.
void render_proxy(std::ostream& out, const Metrics& m) {
  family(out, "switchboard_proxy_requests_total", "counter",
         "Client requests sent to the application first (--proxy-subscribe, --proxy-publish, --proxy-connect), by "
         "route and answer: allowed, denied (the client got forbidden, or its handshake was refused), unavailable "
         "(no answer within --proxy-timeout-ms, an error, a malformed answer, or --proxy-concurrency reached: the "
         "client got unavailable, or its handshake 503).");
  static constexpr std::string_view kRoutes[] = {"subscribe", "publish", "connect"};
  static constexpr std::string_view kResults[] = {"allowed", "denied", "unavailable"};
  for (std::size_t route = 0; route < 3; ++route)
    for (std::size_t result = 0; result < 3; ++result)
      sample(out, "switchboard_proxy_requests_total", "route", kRoutes[route], "result", kResults[result],
             m.proxy_requests[route][result].load());
  m.proxy_seconds.render(out, "switchboard_proxy_seconds",
                         "Seconds from a request sent to the application to its answer (or its failure).");
}
}  // namespace

std::string Metrics::render(std::size_t rooms, std::size_t subscriptions, const cluster::Broker::Stats& broker) const {
  std::ostringstream out;
  render_broker(out, broker);
  render_traffic(out, *this, rooms, subscriptions);
  render_outcomes(out, *this);
  render_webhooks(out, *this);
  render_proxy(out, *this);
  render_tallies(out);
  return out.str();
}

void Metrics::render_tallies(std::ostream& out) const {
  std::lock_guard lock(mutex_);
  family(out, "switchboard_closes_total", "counter", "WebSocket close codes sent by the node.");
  for (auto [code, n] : closes_) sample(out, "switchboard_closes_total", "code", code, n);
  family(out, "switchboard_handshakes_rejected_total", "counter", "Upgrade requests refused, by reason.");
  for (const auto& [reason, n] : rejected_) sample(out, "switchboard_handshakes_rejected_total", "reason", reason, n);
  family(out, "switchboard_api_requests_total", "counter", "HTTP API requests answered, by endpoint and status.");
  for (const auto& [key, n] : api_)
    sample(out, "switchboard_api_requests_total", "endpoint", key.first, "status", key.second, n);
  family(out, "switchboard_http_publishes_rate_limited_total", "counter",
         "POST /api/publish refused with 429, by what was limited: api_key, user or address.");
  for (const auto& [by, n] : http_publish_limited_) sample(out, "switchboard_http_publishes_rate_limited_total", "by", by, n);
  family(out, "switchboard_http_requests_refused_total", "counter",
         "HTTP requests refused before being routed, by route and reason (origin_not_allowed: a browser page "
         "of an origin not in --allowed-origins; on route admin, unauthorized: a missing or wrong --admin-key, "
         "cross_site: a request from another site's page; on route unread, bad_request: a request that could not be "
         "read, too_large: one too large to read).");
  for (const auto& [key, n] : refused_)
    sample(out, "switchboard_http_requests_refused_total", "route", key.first, "reason", key.second, n);
}

}  // namespace switchboard::server
