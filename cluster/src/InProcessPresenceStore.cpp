#include "switchboard/cluster/InProcessPresenceStore.h"

#include <algorithm>

namespace switchboard::cluster {

using protocol::PresenceEventType;

void InProcessPresenceStore::set_event_handler(EventHandler handler) {
  std::lock_guard lock(mutex_);
  on_event_ = std::move(handler);
}

void InProcessPresenceStore::join(const std::string& room_name, ConnectionId conn,
                                  const std::string& user, const nlohmann::json& info) {
  std::lock_guard lock(mutex_);
  Room& room = rooms_[room_name];
  if (!room.users.emplace(conn, user).second) return;
  auto [it, first] = room.members.try_emplace(user);
  if (first) it->second.info = info;
  it->second.conns.insert(conn);
  // Events leave under the lock so that a room's joins and leaves reach watchers in order.
  if (first && on_event_)
    on_event_(room_name, protocol::presence_event(PresenceEventType::join, room_name, user, info));
}

void InProcessPresenceStore::leave(const std::string& room_name, ConnectionId conn) {
  std::lock_guard lock(mutex_);
  auto room_it = rooms_.find(room_name);
  if (room_it == rooms_.end()) return;
  Room& room = room_it->second;
  auto user_it = room.users.find(conn);
  if (user_it == room.users.end()) return;
  auto member_it = room.members.find(user_it->second);
  member_it->second.conns.erase(conn);
  if (member_it->second.conns.empty()) {
    if (on_event_)
      on_event_(room_name, protocol::presence_event(PresenceEventType::leave, room_name,
                                                    member_it->first, member_it->second.info));
    room.members.erase(member_it);
  }
  room.users.erase(user_it);
  if (room.users.empty()) rooms_.erase(room_it);
}

void InProcessPresenceStore::list(const std::string& room_name, ListHandler done) {
  std::vector<protocol::PresenceMember> members;
  {
    std::lock_guard lock(mutex_);
    if (auto it = rooms_.find(room_name); it != rooms_.end()) {
      members.reserve(it->second.members.size());
      for (const auto& [user, m] : it->second.members)
        members.push_back({user, m.info, static_cast<int>(m.conns.size())});
    }
  }
  std::sort(members.begin(), members.end(),
            [](const auto& a, const auto& b) { return a.user < b.user; });
  done(std::move(members));
}

}  // namespace switchboard::cluster
