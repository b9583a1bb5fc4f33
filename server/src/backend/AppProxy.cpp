#include "backend/AppProxy.h"

#include <boost/asio/post.hpp>
#include <cctype>
#include <stdexcept>

#include "backend/Webhooks.h"
#include "switchboard/protocol/BinaryData.h"
#include "switchboard/protocol/JsonText.h"
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
  if (connection) body["connection"] = *connection;
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
  if (!config.proxy_connect_url.empty()) {
    targets_[route_index(Route::connect)] = Target{config.proxy_connect_url, RoomPatterns::all(), {}};
    connect_headers_ = connect_header_names(config.proxy_connect_headers);
  }
}

std::vector<std::string> AppProxy::connect_header_names(std::string_view list) {
  std::vector<std::string> names;
  while (!list.empty()) {
    auto comma = list.find(',');
    std::string name(list.substr(0, comma));
    std::erase(name, ' ');
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!name.empty()) names.push_back(std::move(name));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return names;
}

AppProxy::~AppProxy() = default;

std::string_view AppProxy::name(Route route) {
  switch (route) {
    case Route::subscribe: return "subscribe";
    case Route::publish: return "publish";
    case Route::connect: return "connect";
  }
  return "";
}

void AppProxy::start(net::io_context& ioc) {
  if (!targets_[0] && !targets_[1] && !targets_[2]) return;
  strand_.emplace(net::make_strand(ioc));
  HttpClient::Options options;
  options.timeout = config_.proxy_timeout;
  options.ca_file = config_.proxy_ca_file;
  options.max_connections = config_.proxy_concurrency;
  options.max_waiting = config_.proxy_concurrency * kWaitingPerConnection;
  // An answer carries at most a replacement of the message's data (checked once minified), and
  // room around it for the application's whitespace and escapes.
  options.max_response_bytes = 2 * config_.max_message_size + 64 * 1024;
  for (auto route : {Route::subscribe, Route::publish, Route::connect}) {
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

void AppProxy::connect(const ConnectRequest& request, Handler done) {
  nlohmann::json headers = nlohmann::json::object();
  for (const auto& [name, value] : request.headers) headers[name] = value;
  nlohmann::json body = {{"transport", request.transport}, {"remote", request.remote}, {"headers", std::move(headers)},
                         {"query", request.query}};
  if (!request.origin.empty()) body["origin"] = request.origin;
  call(Route::connect, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), std::move(done));
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
  request.headers = Webhooks::signed_headers(config_.proxy_secret, body);
  request.body = std::move(body);
  target->client->send(std::move(request), [this, route, started = Clock::now(), done = std::move(done)](
                                               HttpClient::Response response) {
    // The time of the calls that went out to the application (Response::sent).
    if (response.sent) metrics_.proxy_seconds.observe(std::chrono::duration<double>(Clock::now() - started).count());
    Answer answer = read_answer(route, response);
    ++metrics_.proxy_requests[route_index(route)][verdict_index(answer.verdict)];
    done(std::move(answer));
  });
}

AppProxy::Answer AppProxy::read_answer(Route route, const HttpClient::Response& response) const {
  Answer answer;
  const std::string& url = targets_[route_index(route)]->url;
  auto unavailable = [&](const std::string& why) {
    if (auto left_out = failure_lines_.take())
      log::warn("proxy " + url + ": " + why + "; the client's " + std::string(name(route)) + " is unavailable" +
                LogBudget::line_suffix(*left_out, "proxy failures"));
    return answer;
  };
  if (response.status == 0) return unavailable(response.error);
  if (response.status < 200 || response.status >= 300)
    return unavailable("answered " + std::to_string(response.status));
  // Checked as a client's publish is, before anything is built from it: strict JSON, and a
  // replacement `data` nested no deeper than a client's may be (the answer's object is one more
  // level), taken as the text the application wrote.
  auto scanned = protocol::JsonText::scan(response.body, kMaxDataDepth + 1);
  if (scanned.status != protocol::JsonText::Status::ok || !scanned.object)
    return unavailable(scanned.status == protocol::JsonText::Status::too_deep
                           ? "the answer nests deeper than " + std::to_string(kMaxDataDepth) + " levels"
                           : "the answer is not a JSON object");
  auto parsed = nlohmann::json::parse(response.body, nullptr, false);  // depth bounded by the scan
  if (parsed.is_discarded() || !parsed.contains("allow") || !parsed["allow"].is_boolean())
    return unavailable("the answer is not {\"allow\":true|false,…}");
  if (!parsed["allow"].get<bool>()) {
    answer.verdict = Answer::Verdict::denied;
    if (auto it = parsed.find("message"); it != parsed.end() && it->is_string()) answer.message = it->get<std::string>();
    if (auto it = parsed.find("status"); route == Route::connect && it != parsed.end() && *it == 401) answer.status = 401;
    return answer;
  }
  if (route == Route::connect) {
    try {
      answer.identity = identity_of(parsed, config_);
    } catch (const std::invalid_argument& e) {
      return unavailable(std::string("the answer's ") + e.what());
    }
  }
  if (route == Route::publish) {
    for (const auto& member : scanned.members) {
      if (member.key != "data") continue;
      std::string data = member.has_whitespace ? protocol::JsonText::minify(member.value) : std::string(member.value);
      if (data.size() > config_.max_message_size)
        return unavailable("the replacement data is larger than --max-message-size (" + std::to_string(data.size()) +
                           " bytes)");
      if (protocol::is_binary_data(data))
        if (auto problem = protocol::binary_data_problem(data)) return unavailable("the replacement data: " + *problem);
      answer.data = std::move(data);  // the last, if the key is repeated
    }
  }
  answer.verdict = Answer::Verdict::allowed;
  return answer;
}

auth::Identity AppProxy::identity_of(const nlohmann::json& answer, const Config& config) {
  auth::Identity identity;
  auto user = answer.find("user");
  if (user == answer.end() || !user->is_string() || user->get_ref<const std::string&>().empty() ||
      user->get_ref<const std::string&>().size() > kMaxUserBytes)
    throw std::invalid_argument("\"user\" is not a string of 1 to " + std::to_string(kMaxUserBytes) + " bytes");
  identity.user = user->get<std::string>();
  if (auto info = answer.find("info"); info != answer.end() && !info->is_null()) {
    if (!info->is_object()) throw std::invalid_argument("\"info\" is not an object");
    // As large as a token may be: presence repeats it in every member list and event.
    if (info->dump().size() > config.jwt_max_token_bytes)
      throw std::invalid_argument("\"info\" is larger than --jwt-max-token-bytes");
    identity.info = *info;
  }
  if (auto rooms = answer.find("rooms"); rooms != answer.end() && !rooms->is_null()) {
    identity.permissions = auth::RoomPermissions::parse(*rooms, identity.user);  // throws std::invalid_argument
    // As a token's rooms claim: with the grants every token gets besides its own.
    if (!config.default_rooms.empty())
      identity.permissions.merge(auth::RoomPermissions::parse(nlohmann::json::parse(config.default_rooms), identity.user));
  }
  if (auto expires = answer.find("expires_at"); expires != answer.end() && !expires->is_null()) {
    // Seconds, in the future, before the clock's range ends (milliseconds by mistake are refused).
    auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
    if (!expires->is_number_integer() || expires->get<double>() <= static_cast<double>(now.count()) ||
        expires->get<double>() > static_cast<double>(kMaxExpiresAt))
      throw std::invalid_argument("\"expires_at\" is not a time to come, in seconds since the epoch");
    identity.expires_at = std::chrono::system_clock::time_point(std::chrono::seconds(expires->get<std::int64_t>()));
  }
  return identity;
}

}  // namespace switchboard::server
