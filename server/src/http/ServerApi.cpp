#include "http/ServerApi.h"

#include <boost/url/parse.hpp>
#include <charconv>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "switchboard/auth/RoomPermissions.h"
#include "switchboard/protocol/CloseCode.h"
#include "switchboard/protocol/Command.h"
#include "switchboard/protocol/Messages.h"
#include "switchboard/protocol/RoomName.h"

namespace switchboard::server {

namespace {

using nlohmann::json;

constexpr std::string_view kDefaultReason = "disconnected by the server";
constexpr std::size_t kMaxUserBytes = 1024;       // a user id (a token's sub) or a token id (jti)
constexpr std::size_t kMaxReasonBytes = 123;      // what a WebSocket close frame carries
constexpr std::int64_t kMaxDenySeconds = 366L * 24 * 3600;  // how far ahead "until" may be
constexpr std::size_t kMaxRoomsLimit = 1000, kDefaultRoomsLimit = 100;

// The string member `name` of `body`: nullopt when absent; throws std::invalid_argument when it
// is not a string of 1-`max` bytes.
std::optional<std::string> string_member(const json& body, const char* name, std::size_t max) {
  auto it = body.find(name);
  if (it == body.end()) return std::nullopt;
  if (!it->is_string() || it->get_ref<const std::string&>().empty() || it->get_ref<const std::string&>().size() > max)
    throw std::invalid_argument(std::string(name) + " must be a string of 1-" + std::to_string(max) + " bytes");
  return it->get<std::string>();
}

json nodes(std::size_t answered, std::size_t known) {
  return {{"answered", answered}, {"known", std::max(answered, known)}};
}

}  // namespace

std::string_view ServerApi::endpoint_of(std::string_view path) {
  for (std::string_view e : {"disconnect", "unsubscribe", "broadcast", "rooms", "presence-stats"})
    if (path == e) return e;
  if (path == "users" || path.starts_with("users/")) return "users";
  return {};
}

http::verb ServerApi::method_of(std::string_view endpoint) {
  return endpoint == "disconnect" || endpoint == "unsubscribe" || endpoint == "broadcast" ? http::verb::post
                                                                                          : http::verb::get;
}

HttpResponse ServerApi::answer(const HttpRequest& req, std::string_view endpoint, http::status status,
                               std::string_view code, std::string_view message) {
  metrics_.count_api_request(endpoint, static_cast<unsigned>(status));
  return HttpRoutes::json_error(req, status, code, message);
}

HttpResponse ServerApi::ok(const HttpRequest& req, std::string_view endpoint, const json& body) {
  metrics_.count_api_request(endpoint, 200);
  return HttpRoutes::make_response(req, http::status::ok, "application/json",
                                   body.dump(-1, ' ', false, json::error_handler_t::replace));
}

void ServerApi::handle(const HttpRequest& req, std::string_view endpoint, Respond respond) {
  if (endpoint == "disconnect") return disconnect(req, std::move(respond));
  if (endpoint == "unsubscribe") return unsubscribe(req, std::move(respond));
  if (endpoint == "broadcast") return broadcast(req, std::move(respond));
  if (endpoint == "rooms") return rooms(req, std::move(respond));
  if (endpoint == "presence-stats") return presence_stats(req, std::move(respond));
  user(req, std::move(respond));
}

void ServerApi::gather(const HttpRequest& req, std::string_view endpoint, json query,
                       std::function<json(const std::vector<json>& answers)> merge, Respond respond,
                       std::optional<std::chrono::system_clock::time_point> keep_until) {
  // The answer is built once the nodes answered: keep what it needs.
  auto shape = std::make_shared<HttpRequest>();
  shape->version(req.version());
  shape->keep_alive(req.keep_alive());
  control_.ask(
      std::move(query),
      [this, shape, endpoint, merge = std::move(merge), respond = std::move(respond)](std::vector<json> answers,
                                                                                   std::size_t known) {
        std::erase_if(answers, [](const json& a) { return !a.is_object(); });
        if (answers.empty())
          return respond(answer(*shape, endpoint, http::status::service_unavailable, "unavailable",
                                "no node answered (the cluster's Redis is unreachable?); retry later"));
        json body = merge(answers);
        body["nodes"] = nodes(answers.size(), known);
        respond(ok(*shape, endpoint, body));
      },
      keep_until);
}

void ServerApi::disconnect(const HttpRequest& req, Respond respond) {
  auto body = json::parse(req.body(), nullptr, false);
  if (body.is_discarded()) return respond(answer(req, "disconnect", http::status::bad_request, "bad_json", "body is not valid JSON"));
  json query = {{"op", "disconnect"}};
  std::optional<std::chrono::system_clock::time_point> until;
  try {
    if (!body.is_object()) throw std::invalid_argument(R"(the body is a JSON object {"user":…})");
    auto user = string_member(body, "user", kMaxUserBytes);
    auto jti = string_member(body, "jti", kMaxUserBytes);
    if (!user && !jti) throw std::invalid_argument("user or jti (or both) is required");
    if (user) query["user"] = *user;
    if (jti) query["jti"] = *jti;
    int code = protocol::close_code::disconnected;
    if (auto it = body.find("code"); it != body.end()) {
      if (!it->is_number_integer() || it->get<std::int64_t>() < 4000 || it->get<std::int64_t>() > 4999)
        throw std::invalid_argument("code must be an integer from 4000 to 4999");
      code = it->get<int>();
    }
    query["code"] = code;
    query["reason"] = string_member(body, "reason", kMaxReasonBytes).value_or(std::string(kDefaultReason));
    if (auto it = body.find("until"); it != body.end()) {
      auto now = std::chrono::system_clock::now();
      auto now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
      if (!it->is_number_integer() || it->get<std::int64_t>() < 0 || it->get<std::int64_t>() > now_s + kMaxDenySeconds)
        throw std::invalid_argument("until must be an integer of seconds since the epoch, at most a year ahead");
      std::chrono::system_clock::time_point at{std::chrono::seconds(it->get<std::int64_t>())};
      if (at > now) {
        until = at;
        query["until"] = std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
      }
    }
  } catch (const std::invalid_argument& e) {
    return respond(answer(req, "disconnect", http::status::bad_request, "bad_request", e.what()));
  }
  json denied = until ? json(std::chrono::duration_cast<std::chrono::seconds>(until->time_since_epoch()).count())
                      : json(nullptr);
  gather(
      req, "disconnect", std::move(query),
      [denied](const std::vector<json>& answers) {
        std::size_t closed = 0;
        for (const auto& a : answers) closed += a.value("closed", std::size_t{0});
        json body = {{"ok", true}, {"closed", closed}};
        if (!denied.is_null()) body["until"] = denied;
        return body;
      },
      std::move(respond), until);
}

void ServerApi::unsubscribe(const HttpRequest& req, Respond respond) {
  auto body = json::parse(req.body(), nullptr, false);
  if (body.is_discarded()) return respond(answer(req, "unsubscribe", http::status::bad_request, "bad_json", "body is not valid JSON"));
  json query = {{"op", "unsubscribe"}};
  try {
    if (!body.is_object()) throw std::invalid_argument(R"(the body is a JSON object {"user":…,"room":…})");
    auto user = string_member(body, "user", kMaxUserBytes);
    if (!user) throw std::invalid_argument("user is required");
    auto room = body.find("room");
    if (room == body.end() || !room->is_string()) throw std::invalid_argument("room is required and must be a string");
    if (!protocol::is_valid_room_name(room->get_ref<const std::string&>()))
      return respond(answer(req, "unsubscribe", http::status::bad_request, "bad_room", protocol::kRoomNameRule));
    query["user"] = *user;
    query["room"] = *room;
  } catch (const std::invalid_argument& e) {
    return respond(answer(req, "unsubscribe", http::status::bad_request, "bad_request", e.what()));
  }
  gather(
      req, "unsubscribe", std::move(query),
      [](const std::vector<json>& answers) {
        std::size_t n = 0;
        for (const auto& a : answers) n += a.value("unsubscribed", std::size_t{0});
        return json{{"ok", true}, {"unsubscribed", n}};
      },
      std::move(respond));
}

void ServerApi::broadcast(const HttpRequest& req, Respond respond) {
  auto parsed = protocol::parse_broadcast_body(req.body());
  if (auto* err = std::get_if<protocol::CommandError>(&parsed))
    return respond(answer(req, "broadcast", http::status::bad_request, protocol::to_string(err->code), err->message));
  auto& body = std::get<protocol::BroadcastBody>(parsed);
  // Each room's publish is acked on its own: the answer goes once every room's is in.
  struct Pending {
    std::mutex mutex;
    std::size_t waiting;
    std::map<std::string, std::uint64_t> offsets;
    std::vector<std::string> failed;
    HttpRequest shape;
    Respond respond;
  };
  auto pending = std::make_shared<Pending>();
  pending->waiting = body.rooms.size();
  pending->shape.version(req.version());
  pending->shape.keep_alive(req.keep_alive());
  pending->respond = std::move(respond);
  std::string from = body.from ? *body.from : std::string(kDefaultSender);
  for (const auto& room : body.rooms) {
    dispatcher_.publish_from_backend(room, body.data, from, Dispatcher::scoped_idem(body.idem, {}, true),
                                     [this, pending, room](std::optional<std::uint64_t> offset) {
                                       std::unique_lock lock(pending->mutex);
                                       if (offset) pending->offsets[room] = *offset;
                                       else pending->failed.push_back(room);
                                       if (--pending->waiting > 0) return;
                                       lock.unlock();
                                       if (!pending->failed.empty())
                                         return pending->respond(answer(
                                             pending->shape, "broadcast", http::status::service_unavailable,
                                             "unavailable",
                                             std::to_string(pending->failed.size()) +
                                                 " room(s) did not take the message (" + pending->failed.front() +
                                                 "…); send the broadcast again, with an idem so that the rooms "
                                                 "that took it do not get it twice"));
                                       pending->respond(
                                           ok(pending->shape, "broadcast", {{"ok", true}, {"offsets", pending->offsets}}));
                                     });
  }
}

void ServerApi::rooms(const HttpRequest& req, Respond respond) {
  std::size_t limit = kDefaultRoomsLimit;
  if (auto text = HttpRoutes::query_parameter(req.target(), "limit")) {
    std::size_t value = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc() || end != text->data() + text->size() || value < 1 || value > kMaxRoomsLimit)
      return respond(answer(req, "rooms", http::status::bad_request, "bad_request",
                            "limit is an integer from 1 to " + std::to_string(kMaxRoomsLimit)));
    limit = value;
  }
  json query = {{"op", "rooms"}, {"limit", limit}};
  if (auto pattern = HttpRoutes::query_parameter(req.target(), "pattern")) {
    if (pattern->empty() || pattern->size() > protocol::kMaxRoomNameBytes)
      return respond(answer(req, "rooms", http::status::bad_request, "bad_request",
                            "pattern is 1-200 bytes: a room name in which * matches any run of characters"));
    query["pattern"] = *pattern;
  }
  if (auto cursor = HttpRoutes::query_parameter(req.target(), "cursor")) {
    if (cursor->size() > protocol::kMaxRoomNameBytes)
      return respond(answer(req, "rooms", http::status::bad_request, "bad_request",
                            "cursor is the cursor of the previous page's answer"));
    query["after"] = *cursor;
  }
  gather(
      req, "rooms", std::move(query),
      [limit](const std::vector<json>& answers) {
        // Each node gave its first `limit` rooms after the cursor: the first `limit` of them all
        // are among those, with every node's count.
        std::map<std::string, std::size_t> merged;
        bool more = false;
        for (const auto& a : answers) {
          more = more || a.value("more", false);
          for (const auto& r : a.value("rooms", json::array()))
            if (r.is_array() && r.size() == 2 && r[0].is_string() && r[1].is_number_unsigned())
              merged[r[0].get<std::string>()] += r[1].get<std::size_t>();
        }
        json rooms = json::array();
        std::string last;
        for (const auto& [room, subscribers] : merged) {
          if (rooms.size() == limit) {
            more = true;
            break;
          }
          rooms.push_back({{"room", room}, {"subscribers", subscribers}});
          last = room;
        }
        return json{{"ok", true}, {"rooms", std::move(rooms)}, {"cursor", more ? json(last) : json(nullptr)}};
      },
      std::move(respond));
}

void ServerApi::presence_stats(const HttpRequest& req, Respond respond) {
  auto room = HttpRoutes::query_parameter(req.target(), "room");
  if (!room) return respond(answer(req, "presence-stats", http::status::bad_request, "bad_request", "GET /api/presence-stats?room=NAME"));
  if (!protocol::is_valid_room_name(*room))
    return respond(answer(req, "presence-stats", http::status::bad_request, "bad_room", protocol::kRoomNameRule));
  auto shape = std::make_shared<HttpRequest>();
  shape->version(req.version());
  shape->keep_alive(req.keep_alive());
  // The presence store counts every subscriber of the room, on every node.
  dispatcher_.presence_for_backend(*room, [this, shape, room = *room, respond = std::move(respond)](auto members) {
    if (!members)
      return respond(answer(*shape, "presence-stats", http::status::service_unavailable, "unavailable",
                            "presence is unavailable; retry later"));
    std::size_t connections = 0;
    for (const auto& m : *members) connections += m.conns;
    respond(ok(*shape, "presence-stats",
               {{"ok", true}, {"room", room}, {"connections", connections}, {"users", members->size()}}));
  });
}

void ServerApi::user(const HttpRequest& req, Respond respond) {
  // /api/users/{id}, the id percent-decoded.
  auto url = boost::urls::parse_origin_form(req.target());
  std::vector<std::string> segments;
  if (url)
    for (auto segment : url->segments()) segments.push_back(segment);
  if (segments.size() != 3 || segments[2].empty() || segments[2].size() > kMaxUserBytes)
    return respond(answer(req, "users", http::status::bad_request, "bad_request",
                          "GET /api/users/{id}, the user id 1-1024 bytes, percent-encoded"));
  std::string id = segments[2];
  gather(
      req, "users", {{"op", "user"}, {"user", id}},
      [id](const std::vector<json>& answers) {
        std::size_t connections = 0;
        std::set<std::string> rooms;
        for (const auto& a : answers) {
          connections += a.value("connections", std::size_t{0});
          for (const auto& r : a.value("rooms", json::array()))
            if (r.is_string()) rooms.insert(r.get<std::string>());
        }
        return json{{"ok", true}, {"user", id}, {"online", connections > 0}, {"connections", connections},
                    {"rooms", rooms}};
      },
      std::move(respond));
}

}  // namespace switchboard::server
