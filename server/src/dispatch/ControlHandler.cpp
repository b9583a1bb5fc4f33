#include "dispatch/ControlHandler.h"

#include <algorithm>

#include "switchboard/auth/RoomPermissions.h"
#include "switchboard/protocol/CloseCode.h"
#include "switchboard/server/Log.h"

namespace switchboard::server {

namespace {

std::string text(const nlohmann::json& query, const char* name) {
  auto it = query.find(name);
  return it != query.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

nlohmann::json ControlHandler::answer(const nlohmann::json& query) {
  if (!query.is_object()) return nullptr;
  std::string op = text(query, "op");
  try {
    if (op == "disconnect") {
      std::string user = text(query, "user"), jti = text(query, "jti");
      if (user.empty() && jti.empty()) return nullptr;
      // A message from Redis is checked as the API checks a request: "until" at most a year and a
      // day ahead (else ignored), the code one an application may send (else 4003).
      if (auto until = query.find("until"); until != query.end() && until->is_number_integer()) {
        const auto at = std::chrono::milliseconds(until->get<std::int64_t>());
        const auto latest = std::chrono::duration_cast<std::chrono::milliseconds>(
            (DenyList::Clock::now() + std::chrono::hours(24 * 367)).time_since_epoch());
        if (at.count() > 0 && at <= latest) denied_.deny(user, jti, DenyList::Clock::time_point(at));
      }
      auto code = query.value("code", static_cast<int>(protocol::close_code::disconnected));
      if (code < 4000 || code > 4999) code = static_cast<int>(protocol::close_code::disconnected);
      auto closed = dispatcher_.disconnect(user, jti, static_cast<std::uint16_t>(code), text(query, "reason"));
      return {{"closed", closed}};
    }
    if (op == "unsubscribe")
      return {{"unsubscribed", dispatcher_.unsubscribe_user(text(query, "user"), text(query, "room"),
                                                            "unsubscribed by the server")}};
    if (op == "rooms") {
      std::string pattern = text(query, "pattern");
      std::optional<auth::RoomPermissions> filter;
      if (!pattern.empty()) filter = auth::RoomPermissions::parse({{"sub", nlohmann::json::array({pattern})}}, "");
      auto limit = query.value("limit", 100);
      auto page = dispatcher_.registry().rooms_after(
          text(query, "after"), static_cast<std::size_t>(std::clamp(limit, 1, 1000)),
          [&](const std::string& room) { return !filter || filter->allows(auth::RoomAction::subscribe, room); });
      auto rooms = nlohmann::json::array();
      for (auto& r : page.rooms) rooms.push_back({r.room, r.subscribers});
      return {{"rooms", std::move(rooms)}, {"more", page.more}};
    }
    if (op == "node" && node_facts_) return node_facts_();
    if (op == "user") {
      auto facts = dispatcher_.user_facts(text(query, "user"));
      return {{"connections", facts.connections}, {"rooms", facts.rooms}};
    }
  } catch (const std::exception& e) {
    log::warn(std::string("a control query failed: ") + e.what());
  }
  return nullptr;
}

}  // namespace switchboard::server
