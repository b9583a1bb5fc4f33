#include "backend/Webhooks.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/asio/post.hpp>

#include "switchboard/cluster/RandomId.h"
#include "switchboard/server/Log.h"

namespace switchboard::server {

namespace net = boost::asio;

// One URL: its queue (under `mutex`, from any thread) and its batch (on the strand).
struct Webhooks::Target {
  Target(std::string url, const net::any_io_executor& executor) : url(std::move(url)), timer(executor) {}

  std::string url;
  std::mutex mutex;
  std::deque<std::string> queue;  // events' JSON text, oldest first
  std::size_t held = 0;           // queued or in the batch: what --webhook-queue-size bounds
  std::size_t held_bytes = 0;     // their bytes: what kMaxQueueBytes bounds
  std::atomic<bool> failing{false};  // its last batch failed: stop() does not wait for it
  bool posted = false;            // a pump is on its way to the strand
  // On the strand:
  std::vector<std::string> batch;
  bool busy = false;              // the batch is under way or waiting for its retry
  unsigned attempt = 0;
  Clock::time_point first_try;
  net::steady_timer timer;        // the retry's backoff
};

Webhooks::Webhooks(const Config& config, Metrics& metrics)
    : config_(config),
      metrics_(metrics),
      filter_(WebhookFilter::parse(config.webhook_events, config.clustered())),
      node_(cluster::random_id(6)),
      random_(std::random_device{}()) {}

Webhooks::~Webhooks() = default;

void Webhooks::start(net::io_context& ioc) {
  if (config_.webhook_urls.empty()) return;
  strand_.emplace(net::make_strand(ioc));
  HttpClient::Options options;
  options.timeout = config_.webhook_timeout;
  options.ca_file = config_.webhook_ca_file;
  client_ = HttpClient::make(*strand_, options);
  for (const auto& url : config_.webhook_urls) targets_.push_back(std::make_unique<Target>(url, *strand_));
  running_ = true;
  log::info("webhooks: " + std::to_string(targets_.size()) + " URL(s), queue of " +
            std::to_string(config_.webhook_queue_size) + " events each");
}

void Webhooks::stop(std::chrono::milliseconds grace) {
  if (!running_) return;
  auto queued = [this] {
    for (auto& target : targets_) {
      std::lock_guard lock(target->mutex);
      if (target->held > 0 && !target->failing) return true;
    }
    return false;
  };
  {
    std::unique_lock lock(drained_mutex_);
    drained_.wait_for(lock, grace, [&] { return !queued(); });
  }
  if (!running_.exchange(false)) return;
  net::post(*strand_, [this] {
    for (auto& target : targets_) target->timer.cancel();
  });
  client_->stop();
}

std::string Webhooks::signature(std::string_view secret, std::string_view timestamp, std::string_view body) {
  std::string signed_text;
  signed_text.reserve(timestamp.size() + 1 + body.size());
  signed_text.append(timestamp).append(".").append(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
            reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(), mac, &length))
    throw std::runtime_error("HMAC-SHA256 failed");
  return "v1=" + cluster::to_hex({mac, length});
}

std::vector<std::pair<std::string, std::string>> Webhooks::signed_headers(std::string_view secret, std::string_view body) {
  auto timestamp = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  auto signed_by = signature(secret, timestamp, body);
  return {{"Content-Type", "application/json"},
          {"X-Switchboard-Timestamp", std::move(timestamp)},
          {"X-Switchboard-Signature", std::move(signed_by)}};
}

nlohmann::json Webhooks::event(WebhookKind kind) {
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
  return {{"id", node_ + "-" + std::to_string(++sequence_)},
          {"type", WebhookFilter::name(kind)},
          {"time", now.count()}};
}

void Webhooks::connection_opened(cluster::ConnectionId id, const std::string& user) {
  if (!running_ || !filter_.wants(WebhookKind::connection_opened)) return;
  auto e = event(WebhookKind::connection_opened);
  e["connection"] = id;
  e["user"] = user;
  emit(e.dump());
}

void Webhooks::connection_closed(cluster::ConnectionId id, const std::string& user) {
  if (!running_ || !filter_.wants(WebhookKind::connection_closed)) return;
  auto e = event(WebhookKind::connection_closed);
  e["connection"] = id;
  e["user"] = user;
  emit(e.dump());
}

bool Webhooks::wants_publication(const std::string& room) const {
  return running_ && filter_.wants(WebhookKind::message_published, room);
}

void Webhooks::message_published(const std::string& room, std::string_view from, std::uint64_t offset,
                                 std::string_view data) {
  if (!wants_publication(room)) return;
  auto e = event(WebhookKind::message_published);
  e["room"] = room;
  e["from"] = from;
  e["offset"] = offset;
  // The data as its publisher's JSON text (already checked), spliced in unparsed.
  std::string text = e.dump();
  text.pop_back();
  text.append(",\"data\":").append(data).append("}");
  emit(text);
}

void Webhooks::member_changed(const std::string& room, const std::string& user, const std::string& info,
                              bool added, bool room_edge) {
  if (!running_ || !config_.clustered()) return;
  auto occupied = [&](WebhookKind kind) {
    if (!filter_.wants(kind, room)) return;
    auto e = event(kind);
    e["room"] = room;
    emit(e.dump());
  };
  auto member = [&](WebhookKind kind) {
    if (!filter_.wants(kind, room)) return;
    auto e = event(kind);
    e["room"] = room;
    e["user"] = user;
    auto parsed = info.empty() ? nlohmann::json() : nlohmann::json::parse(info, nullptr, false);
    e["info"] = parsed.is_discarded() ? nlohmann::json() : parsed;
    emit(e.dump());
  };
  if (added) {
    if (room_edge) occupied(WebhookKind::room_occupied);
    member(WebhookKind::member_added);
  } else {
    member(WebhookKind::member_removed);
    if (room_edge) occupied(WebhookKind::room_vacated);
  }
}

void Webhooks::presence_changed(const std::string& room, const protocol::Payload& payload) {
  if (!running_ || config_.clustered()) return;
  bool members = filter_.wants(WebhookKind::member_added, room) || filter_.wants(WebhookKind::member_removed, room);
  bool occupancy = filter_.wants(WebhookKind::room_occupied, room) || filter_.wants(WebhookKind::room_vacated, room);
  if (!members && !occupancy) return;
  auto parsed = nlohmann::json::parse(*payload, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) return;
  bool join = parsed.value("type", "") == "join";
  auto member = [&](WebhookKind kind) {
    if (!filter_.wants(kind, room)) return;
    auto e = event(kind);
    e["room"] = room;
    e["user"] = parsed.value("user", "");
    e["info"] = parsed.contains("info") ? parsed["info"] : nlohmann::json();
    emit(e.dump());
  };
  auto occupied = [&](WebhookKind kind) {
    if (!filter_.wants(kind, room)) return;
    auto e = event(kind);
    e["room"] = room;
    emit(e.dump());
  };
  // Under the lock, so that the count and the queues agree on the room's order.
  std::lock_guard lock(members_mutex_);
  if (join) {
    if (++members_[room] == 1) occupied(WebhookKind::room_occupied);
    member(WebhookKind::member_added);
  } else {
    member(WebhookKind::member_removed);
    auto it = members_.find(room);
    if (it != members_.end() && --it->second == 0) {
      members_.erase(it);
      occupied(WebhookKind::room_vacated);
    }
  }
}

void Webhooks::emit(const std::string& text) {
  for (auto& target : targets_) {
    bool post = false;
    {
      std::lock_guard lock(target->mutex);
      if (target->held >= config_.webhook_queue_size || target->held_bytes + text.size() > kMaxQueueBytes) {
        ++metrics_.webhook_dropped_queue_full;
        continue;
      }
      target->queue.push_back(text);
      ++target->held;
      target->held_bytes += text.size();
      post = !target->posted;
      target->posted = true;
    }
    ++metrics_.webhook_events_queued;
    ++metrics_.webhook_queue_events;
    if (post) net::post(*strand_, [this, t = target.get()] { pump(*t); });
  }
}

void Webhooks::pump(Target& target) {
  {
    std::lock_guard lock(target.mutex);
    target.posted = false;
    if (target.busy || !running_) return;
    std::size_t bytes = 0;
    while (target.batch.size() < kMaxBatch && !target.queue.empty() &&
           (target.batch.empty() || bytes + target.queue.front().size() <= kMaxBatchBytes)) {
      bytes += target.queue.front().size();
      target.batch.push_back(std::move(target.queue.front()));
      target.queue.pop_front();
    }
  }
  if (target.batch.empty()) return;
  target.busy = true;
  target.attempt = 0;
  target.first_try = Clock::now();
  send(target);
}

void Webhooks::send(Target& target) {
  HttpClient::Request request;
  request.url = target.url;
  request.body = "{\"events\":[";
  for (std::size_t i = 0; i < target.batch.size(); ++i) {
    if (i) request.body += ',';
    request.body += target.batch[i];
  }
  request.body += "]}";
  request.headers = signed_headers(config_.webhook_secret, request.body);
  ++target.attempt;
  client_->send(std::move(request), [this, &target](HttpClient::Response response) { answered(target, response); });
}

void Webhooks::answered(Target& target, const HttpClient::Response& response) {
  if (response.status >= 200 && response.status < 300) {
    target.failing = false;
    if (target.attempt > 1)
      log::info("webhook " + target.url + ": delivered after " + std::to_string(target.attempt) + " attempts");
    ++metrics_.webhook_batches_delivered;
    settle(target, metrics_.webhook_events_delivered);
    return;
  }
  ++metrics_.webhook_failures;
  target.failing = true;
  {
    std::lock_guard lock(drained_mutex_);
  }
  drained_.notify_all();
  std::string why = response.status ? "answered " + std::to_string(response.status) : response.error;
  if (!running_) return;
  // A 4xx other than 408 (timeout) and 429 (too many) says the batch itself is refused (too large,
  // malformed for the backend): sending it again would fail again, and hold up the queue.
  if (response.status >= 400 && response.status < 500 && response.status != 408 && response.status != 429) {
    log::warn("webhook " + target.url + ": " + why + "; dropped " + std::to_string(target.batch.size()) +
              " events (a 4xx answer is not retried)");
    settle(target, metrics_.webhook_dropped_rejected);
    return;
  }
  if (Clock::now() - target.first_try >= config_.webhook_retry_for) {
    log::warn("webhook " + target.url + ": " + why + "; gave up " + std::to_string(target.batch.size()) +
              " events after " + std::to_string(target.attempt) + " attempts");
    settle(target, metrics_.webhook_dropped_gave_up);
    return;
  }
  if (target.attempt == 1) log::warn("webhook " + target.url + ": " + why + "; retrying");
  // Full jitter: anywhere between 0 and the capped exponential step.
  auto step = kBackoffBase * (1LL << std::min(target.attempt - 1, 20u));
  auto bound = std::min<std::chrono::milliseconds>(kBackoffCap, step);
  std::uniform_int_distribution<long long> pick(0, bound.count());
  target.timer.expires_after(std::chrono::milliseconds(pick(random_)));
  // The retry sends the same batch: the events queued meanwhile go in the next one, each with
  // its own time to retry.
  target.timer.async_wait([this, &target](const boost::system::error_code& ec) {
    if (ec || !running_) return;
    send(target);
  });
}

void Webhooks::settle(Target& target, Metrics::Counter& outcome) {
  auto n = target.batch.size();
  std::size_t bytes = 0;
  for (const auto& event : target.batch) bytes += event.size();
  target.batch.clear();
  target.busy = false;
  {
    std::lock_guard lock(target.mutex);
    target.held -= n;
    target.held_bytes -= bytes;
  }
  metrics_.webhook_queue_events -= static_cast<std::int64_t>(n);
  outcome += n;
  {
    std::lock_guard lock(drained_mutex_);  // so that stop() cannot miss the notification
  }
  drained_.notify_all();
  pump(target);
}

}  // namespace switchboard::server
