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

namespace {
void family(std::ostringstream& out, const char* name, const char* type, const char* help) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
}
// A metric family with one unlabelled sample.
template <class T>
void single(std::ostringstream& out, const char* name, const char* type, const char* help, T value) {
  family(out, name, type, help);
  out << name << ' ' << value << '\n';
}
}  // namespace

std::string Metrics::render(std::size_t rooms, std::size_t subscriptions, const cluster::Broker::Stats& broker) const {
  std::ostringstream out;
  if (broker.clustered) {
    single(out, "switchboard_redis_up", "gauge",
           "1 while the node's connections to Redis are up and its rooms subscribed, else 0.", broker.connected ? 1 : 0);
    single(out, "switchboard_redis_reconnects_total", "counter",
           "Connections to Redis made again after one was lost or failed.", broker.reconnects);
  }
  if (!broker.clustered) {
    single(out, "switchboard_history_bytes", "gauge",
           "Bytes of messages kept in the rooms' histories, within --history-max-bytes.", broker.history_bytes);
    family(out, "switchboard_history_evictions_total", "counter",
           "Messages dropped from the history before their room's size or time to live, by reason.");
    out << "switchboard_history_evictions_total{reason=\"max_bytes\"} " << broker.history_evictions << '\n';
  }
  single(out, "switchboard_connections", "gauge", "Open connections: WebSockets and Server-Sent Events streams.", connections_current.load());
  single(out, "switchboard_connections_opened_total", "counter",
         "Connections accepted: WebSockets and Server-Sent Events streams.", connections_opened.load());
  single(out, "switchboard_sse_streams_opened_total", "counter", "Server-Sent Events streams (GET /sse) accepted.",
         sse_streams_opened.load());
  single(out, "switchboard_rooms", "gauge", "Rooms with at least one local subscriber.", rooms);
  single(out, "switchboard_subscriptions", "gauge", "Local room subscriptions.", subscriptions);
  single(out, "switchboard_http_requests_total", "counter", "HTTP requests read, upgrades included.",
         http_requests.load());
  single(out, "switchboard_frames_received_total", "counter", "WebSocket messages received from clients.",
         frames_received.load());
  single(out, "switchboard_received_bytes_total", "counter", "Payload bytes received from clients.",
         bytes_received.load());
  single(out, "switchboard_messages_published_total", "counter", "Messages accepted for publishing.",
         messages_published.load());
  single(out, "switchboard_deliveries_total", "counter", "Messages and events queued to local connections.",
         deliveries.load());
  single(out, "switchboard_frames_sent_total", "counter", "WebSocket messages written to clients.",
         frames_sent.load());
  single(out, "switchboard_socket_writes_total", "counter",
         "Writes of messages to client sockets; each carries one or more messages.", socket_writes.load());
  single(out, "switchboard_sent_bytes_total", "counter", "Payload bytes written to clients.",
         bytes_sent.load());
  single(out, "switchboard_slow_consumers_total", "counter",
         "Connections closed because they read too slowly.", slow_consumers.load());
  single(out, "switchboard_write_timeouts_total", "counter",
         "Connections cut because a write to them stayed under way for --write-timeout (also counted as slow consumers).",
         write_timeouts.load());
  single(out, "switchboard_history_replies_truncated_total", "counter",
         "History replies that left their oldest messages out to fit half of the connection's queue limit.",
         history_replies_truncated.load());
  family(out, "switchboard_recoveries_total", "counter",
         "Subscribes that asked to recover missed messages, by whether the history reached back.");
  out << "switchboard_recoveries_total{result=\"recovered\"} " << recoveries_succeeded.load() << '\n';
  out << "switchboard_recoveries_total{result=\"not_recovered\"} " << recoveries_failed.load() << '\n';
  family(out, "switchboard_deliveries_dropped_total", "counter", "Deliveries dropped, by reason.");
  out << "switchboard_deliveries_dropped_total{reason=\"slow_consumer\"} "
      << deliveries_dropped_slow_consumer.load() << '\n';
  out << "switchboard_deliveries_dropped_total{reason=\"rate_limited\"} "
      << deliveries_dropped_rate_limited.load() << '\n';
  write_queue_bytes.render(out, "switchboard_write_queue_bytes", "Bytes queued to a connection as each write to it starts, and as it is closed as a slow consumer.");
  delivery_seconds.render(out, "switchboard_delivery_seconds",
                          "Seconds from a frame being queued to a connection to its socket taking it.");
  publish_seconds.render(out, "switchboard_publish_seconds",
                         "Seconds from a publish request to the broker accepting it (in a cluster, Redis).");
  family(out, "switchboard_request_errors_total", "counter", "Error replies sent, by code.");
  for (auto code : protocol::all_error_codes())
    out << "switchboard_request_errors_total{code=\"" << protocol::to_string(code) << "\"} " << errors(code)
        << '\n';
  std::lock_guard lock(mutex_);
  family(out, "switchboard_closes_total", "counter", "WebSocket close codes sent by the node.");
  for (auto [code, n] : closes_) out << "switchboard_closes_total{code=\"" << code << "\"} " << n << '\n';
  family(out, "switchboard_handshakes_rejected_total", "counter", "Upgrade requests refused, by reason.");
  for (const auto& [reason, n] : rejected_)
    out << "switchboard_handshakes_rejected_total{reason=\"" << reason << "\"} " << n << '\n';
  family(out, "switchboard_api_requests_total", "counter", "HTTP API requests answered, by endpoint and status.");
  for (const auto& [key, n] : api_)
    out << "switchboard_api_requests_total{endpoint=\"" << key.first << "\",status=\"" << key.second << "\"} " << n
        << '\n';
  family(out, "switchboard_http_publishes_rate_limited_total", "counter",
         "POST /api/publish refused with 429, by what was limited: api_key, user or address.");
  for (const auto& [by, n] : http_publish_limited_)
    out << "switchboard_http_publishes_rate_limited_total{by=\"" << by << "\"} " << n << '\n';
  family(out, "switchboard_http_requests_refused_total", "counter",
         "HTTP requests refused before being routed, by route and reason (origin_not_allowed: a browser page "
         "of an origin not in --allowed-origins).");
  for (const auto& [key, n] : refused_)
    out << "switchboard_http_requests_refused_total{route=\"" << key.first << "\",reason=\"" << key.second << "\"} "
        << n << '\n';
  return out.str();
}

}  // namespace switchboard::server
