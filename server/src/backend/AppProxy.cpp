#include "backend/AppProxy.h"

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include "backend/Webhooks.h"
#include "switchboard/server/Log.h"

namespace switchboard::server {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {
// Requests of a route that may wait for a connection to the application, per allowed at once.
constexpr std::size_t kWaitingPerConnection = 4;

std::size_t route_index(AppProxy::Route route) { return static_cast<std::size_t>(route); }
std::size_t verdict_index(AppProxy::Answer::Verdict verdict) { return static_cast<std::size_t>(verdict); }

// The fields every request carries: who asks, on which connection, in which room.
nlohmann::json envelope(const auth::Identity& user, std::optional<cluster::ConnectionId> connection,
                        const std::string& room) {
  nlohmann::json body = {{"user", user.user}, {"room", room}};
  if (connection) body["connection"] = std::to_string(*connection);
  return body;
}
}  // namespace

AppProxy::AppProxy(const Config& config, Metrics& metrics) : config_(config), metrics_(metrics) {
  if (!config.proxy_subscribe_url.empty())
    targets_[route_index(Route::subscribe)] =
        Target{config.proxy_subscribe_url, RoomPatterns::parse(config.proxy_subscribe_rooms, "--proxy-subscribe-rooms"), {}};
  if (!config.proxy_publish_url.empty())
    targets_[route_index(Route::publish)] =
        Target{config.proxy_publish_url, RoomPatterns::parse(config.proxy_publish_rooms, "--proxy-publish-rooms"), {}};
}

AppProxy::~AppProxy() = default;

std::string_view AppProxy::name(Route route) { return route == Route::subscribe ? "subscribe" : "publish"; }

void AppProxy::start(net::io_context& ioc) {
  if (!targets_[0] && !targets_[1]) return;
  strand_.emplace(net::make_strand(ioc));
  HttpClient::Options options;
  options.timeout = config_.proxy_timeout;
  options.ca_file = config_.proxy_ca_file;
  options.max_connections = config_.proxy_concurrency;
  options.max_waiting = config_.proxy_concurrency * kWaitingPerConnection;
  // An answer carries at most a replacement of the message's data, and a little around it.
  options.max_response_bytes = config_.max_message_size + 64 * 1024;
  for (auto route : {Route::subscribe, Route::publish}) {
    auto& target = targets_[route_index(route)];
    if (!target) continue;
    target->client = HttpClient::make(*strand_, options);
    log::info("proxy: clients' " + std::string(name(route)) + " requests are asked of " + target->url + " first");
  }
}

void AppProxy::stop() {
  for (auto& target : targets_)
    if (target && target->client) target->client->stop();
}

bool AppProxy::wants(Route route, std::string_view room) const {
  const auto& target = targets_[route_index(route)];
  return target && target->rooms.matches(room);
}

void AppProxy::subscribe(const auth::Identity& user, cluster::ConnectionId connection, const std::string& room,
                         bool presence, Handler done) {
  auto body = envelope(user, connection, room);
  body["presence"] = presence;
  body["info"] = user.info;
  call(Route::subscribe, body.dump(), std::move(done));
}

void AppProxy::publish(const auth::Identity& user, std::optional<cluster::ConnectionId> connection,
                       const std::string& room, std::string_view data, std::string_view idem, Handler done) {
  auto body = envelope(user, connection, room);
  if (!idem.empty()) body["idem"] = idem;
  // The data goes in as the client sent it (JSON text the node has checked), not parsed again.
  std::string text = body.dump();
  text.pop_back();
  text.append(",\"data\":").append(data).append("}");
  call(Route::publish, std::move(text), std::move(done));
}

void AppProxy::call(Route route, std::string body, Handler done) {
  auto& target = targets_[route_index(route)];
  HttpClient::Request request;
  request.url = target->url;
  auto timestamp = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  request.headers = {{"Content-Type", "application/json"},
                     {"X-Switchboard-Timestamp", timestamp},
                     {"X-Switchboard-Signature", Webhooks::signature(config_.proxy_secret, timestamp, body)}};
  request.body = std::move(body);
  target->client->send(std::move(request), [this, route, started = Clock::now(), done = std::move(done)](
                                               HttpClient::Response response) {
    metrics_.proxy_seconds.observe(std::chrono::duration<double>(Clock::now() - started).count());
    Answer answer = read_answer(route, response);
    ++metrics_.proxy_requests[route_index(route)][verdict_index(answer.verdict)];
    done(std::move(answer));
  });
}

AppProxy::Answer AppProxy::read_answer(Route route, const HttpClient::Response& response) const {
  Answer answer;
  const std::string& url = targets_[route_index(route)]->url;
  auto unavailable = [&](const std::string& why) {
    log::warn("proxy " + url + ": " + why + "; the client's " + std::string(name(route)) + " is unavailable");
    return answer;
  };
  if (response.status == 0) return unavailable(response.error);
  if (response.status < 200 || response.status >= 300)
    return unavailable("answered " + std::to_string(response.status));
  auto parsed = nlohmann::json::parse(response.body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object() || !parsed.contains("allow") || !parsed["allow"].is_boolean())
    return unavailable("the answer is not {\"allow\":true|false,…}");
  if (!parsed["allow"].get<bool>()) {
    answer.verdict = Answer::Verdict::denied;
    if (auto it = parsed.find("message"); it != parsed.end() && it->is_string()) answer.message = it->get<std::string>();
    return answer;
  }
  if (auto it = parsed.find("data"); route == Route::publish && it != parsed.end()) {
    std::string data = it->dump();
    if (data.size() > config_.max_message_size)
      return unavailable("the replacement data is larger than --max-message-size (" + std::to_string(data.size()) +
                         " bytes)");
    answer.data = std::move(data);
  }
  answer.verdict = Answer::Verdict::allowed;
  return answer;
}

}  // namespace switchboard::server
