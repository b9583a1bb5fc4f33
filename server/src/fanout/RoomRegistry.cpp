#include "fanout/RoomRegistry.h"

#include <algorithm>
#include <mutex>

#include "switchboard/protocol/Messages.h"
#include "transport/Inbox.h"

namespace switchboard::server {

RoomRegistry::AddResult RoomRegistry::add(const std::shared_ptr<Connection>& conn, const std::string& room,
                                          bool presence, std::size_t max_rooms) {
  std::unique_lock lock(mutex_);
  Memberships& mine = memberships_[conn->id()];
  if (auto it = mine.find(room); it != mine.end()) {
    rooms_[room].subscribers[it->second].presence = presence;
    return AddResult::updated;
  }
  if (mine.size() >= max_rooms) {
    if (mine.empty()) memberships_.erase(conn->id());
    return AddResult::too_many_rooms;
  }
  auto [room_it, created] = rooms_.try_emplace(room);
  // Called under the lock so that a room's broker subscribe and unsubscribe stay in order.
  if (created) broker_.subscribe(room);
  auto& subs = room_it->second.subscribers;
  mine.emplace(room, subs.size());
  subs.push_back({conn, presence, std::make_shared<Held>()});
  ++subscriptions_;
  return AddResult::added;
}

void RoomRegistry::erase_subscriber(const std::string& room_name, std::size_t index) {
  auto room_it = rooms_.find(room_name);
  auto& subs = room_it->second.subscribers;
  if (index + 1 != subs.size()) {
    subs[index] = std::move(subs.back());
    memberships_[subs[index].conn->id()][room_name] = index;
  }
  subs.pop_back();
  --subscriptions_;
  if (subs.empty()) {
    rooms_.erase(room_it);
    broker_.unsubscribe(room_name);
  }
}

bool RoomRegistry::remove(cluster::ConnectionId conn, const std::string& room) {
  std::unique_lock lock(mutex_);
  auto mine = memberships_.find(conn);
  if (mine == memberships_.end()) return false;
  auto it = mine->second.find(room);
  if (it == mine->second.end()) return false;
  std::size_t index = it->second;
  mine->second.erase(it);
  if (mine->second.empty()) memberships_.erase(mine);
  erase_subscriber(room, index);
  return true;
}

bool RoomRegistry::contains(cluster::ConnectionId conn, const std::string& room) const {
  std::shared_lock lock(mutex_);
  auto mine = memberships_.find(conn);
  return mine != memberships_.end() && mine->second.count(room) > 0;
}

std::vector<RoomRegistry::Subscription> RoomRegistry::subscriptions_of(cluster::ConnectionId conn) const {
  std::shared_lock lock(mutex_);
  std::vector<Subscription> out;
  auto mine = memberships_.find(conn);
  if (mine == memberships_.end()) return out;
  out.reserve(mine->second.size());
  for (const auto& [room, index] : mine->second)
    out.push_back({room, rooms_.at(room).subscribers[index].presence});
  return out;
}

std::vector<std::string> RoomRegistry::remove_all(cluster::ConnectionId conn) {
  std::unique_lock lock(mutex_);
  std::vector<std::string> rooms;
  auto mine = memberships_.find(conn);
  if (mine == memberships_.end()) return rooms;
  Memberships memberships = std::move(mine->second);
  memberships_.erase(mine);
  rooms.reserve(memberships.size());
  for (auto& [room, index] : memberships) {
    erase_subscriber(room, index);
    rooms.push_back(room);
  }
  return rooms;
}

namespace {

// How a message (or, with `message` false, a new position) stands to a subscriber's position.
enum class Step {
  next,    // the message right after it
  stale,   // already had (or, for a position, nothing new)
  jump,    // another epoch, or offsets missing: announce the new position first
};

Step step_from(const protocol::StreamPosition& at, bool message, std::uint64_t offset, std::string_view epoch) {
  if (epoch == at.epoch) {
    if (message && offset == at.offset + 1) return Step::next;
    if (offset <= at.offset) return Step::stale;
  }
  return Step::jump;
}

// The position a subscriber is told of before a message that does not follow its own: just
// before that message (or the position itself when there is no message).
protocol::StreamPosition announced(bool message, std::uint64_t offset, std::string_view epoch) {
  return {message && offset > 0 ? offset - 1 : offset, std::string(epoch)};
}

}  // namespace

std::size_t RoomRegistry::deliver(const std::string& room, const protocol::Payload& frame, std::uint64_t offset,
                                  std::string_view epoch) {
  std::shared_lock lock(mutex_);
  // What the loop hands to inboxes (the other I/O threads' subscribers, and this thread's that
  // wait behind earlier hand-offs) goes in one append per inbox, made when the loop ends and
  // before the lock goes (destroyed first): an unsubscribe, which takes the lock exclusively,
  // then finds every delivery before it handed over, and its reply behind them.
  Inbox::Batch handoffs;
  auto it = rooms_.find(room);
  if (it == rooms_.end()) return 0;
  Room& r = it->second;
  const auto now = Connection::Clock::now();
  const bool message = frame != nullptr;
  // Only this room's deliveries touch its position and its subscribers' holds under the shared
  // lock, and they never overlap (the broker says so).
  const Step direct = step_from(r.position, message, offset, epoch);
  if (direct == Step::jump) r.position = {offset, std::string(epoch)};
  else if (direct == Step::next) r.position.offset = offset;
  protocol::Payload announcement;  // built for the first subscriber that needs it
  auto announce = [&](Connection& conn) {
    auto at = announced(message, offset, epoch);
    if (!announcement) announcement = protocol::subscribed_push(room, at, false);
    conn.deliver_message(announcement, room, at.offset, epoch, now);
  };
  // Connection::deliver queues or posts; nothing here writes to a socket.
  for (auto& sub : r.subscribers) {
    if (!sub.held) {
      if (direct == Step::stale) continue;
      if (direct == Step::jump) announce(*sub.conn);
      if (message) sub.conn->deliver_message(frame, room, offset, epoch, now);
      continue;
    }
    std::unique_lock held_lock(sub.held->mutex);
    Held& held = *sub.held;
    if (held.released) {
      Step step = step_from(held.floor, message, offset, epoch);
      if (step == Step::stale) continue;  // queued by release()
      // Past the floor: no older message can follow, and the subscriber stands where the room's
      // direct subscribers do once this is queued.
      held_lock.unlock();
      sub.held.reset();
      if (step == Step::jump) announce(*sub.conn);
      if (message) sub.conn->deliver_message(frame, room, offset, epoch, now);
      continue;
    }
    if (held.overflowed) continue;
    std::size_t size = message ? frame->size() : 0;
    if (held.bytes + size > held_limit_) {
      held.overflowed = true;
      held.messages.clear();
      continue;
    }
    held.bytes += size;
    held.messages.push_back({offset, std::string(epoch), frame});
  }
  return message ? r.subscribers.size() : 0;
}

RoomRegistry::ReleaseResult RoomRegistry::release(const std::shared_ptr<Connection>& conn, const std::string& room,
                                                  const protocol::StreamPosition& after,
                                                  const std::vector<cluster::Broker::Entry>& recovered) {
  // Exclusive: no delivery to the room runs meanwhile, so nothing lands between the held
  // messages queued here and the first one delivered directly after.
  std::unique_lock lock(mutex_);
  auto mine = memberships_.find(conn->id());
  if (mine == memberships_.end()) return ReleaseResult::gone;
  auto it = mine->second.find(room);
  if (it == mine->second.end()) return ReleaseResult::gone;
  Subscriber& sub = rooms_.at(room).subscribers[it->second];
  if (!sub.held || sub.held->released) return ReleaseResult::released;
  Held& held = *sub.held;
  std::unique_lock held_lock(held.mutex);
  if (held.overflowed) {
    // Unlocked first: the reset destroys the Held, and its mutex with it.
    held_lock.unlock();
    sub.held.reset();
    return ReleaseResult::overflowed;
  }
  protocol::StreamPosition at = after;
  const auto now = Connection::Clock::now();
  for (const auto& entry : recovered) {
    if (entry.offset <= at.offset) continue;
    if (entry.offset != at.offset + 1) {  // offsets lost in a failover: the new position first
      at.offset = entry.offset - 1;
      conn->deliver_message(protocol::subscribed_push(room, at, false), room, at.offset, at.epoch, now);
    }
    conn->deliver_message(entry.push, room, entry.offset, after.epoch, now);
    at.offset = entry.offset;
  }
  for (const auto& entry : held.messages) {
    const bool message = entry.push != nullptr;
    Step step = step_from(at, message, entry.offset, entry.epoch);
    if (step == Step::stale) continue;
    if (step == Step::jump) {  // the room's epoch changed meanwhile, or messages were lost
      at = announced(message, entry.offset, entry.epoch);
      conn->deliver_message(protocol::subscribed_push(room, at, false), room, at.offset, at.epoch, now);
    }
    if (message) conn->deliver_message(entry.push, room, entry.offset, entry.epoch, now);
    at = {entry.offset, entry.epoch};
  }
  held.messages = {};
  held.released = true;
  held.floor = std::move(at);
  return ReleaseResult::released;
}

std::size_t RoomRegistry::deliver_presence(const std::string& room, const protocol::Payload& frame) {
  std::shared_lock lock(mutex_);
  Inbox::Batch handoffs;  // as in deliver()
  auto it = rooms_.find(room);
  if (it == rooms_.end()) return 0;
  std::size_t n = 0;
  const auto now = Connection::Clock::now();
  for (const auto& sub : it->second.subscribers)
    if (sub.presence) {
      sub.conn->deliver(frame, now);
      ++n;
    }
  return n;
}

std::size_t RoomRegistry::room_count() const {
  std::shared_lock lock(mutex_);
  return rooms_.size();
}

std::size_t RoomRegistry::subscription_count() const {
  std::shared_lock lock(mutex_);
  return subscriptions_;
}

std::vector<RoomRegistry::RoomSize> RoomRegistry::largest_rooms(std::size_t n) const {
  using Entry = std::pair<std::size_t, const std::string*>;
  // Larger first; among equals, the name first in order.
  auto larger = [](const Entry& a, const Entry& b) { return a.first != b.first ? a.first > b.first : *a.second < *b.second; };
  std::vector<RoomSize> largest;
  if (n == 0) return largest;
  std::shared_lock lock(mutex_);
  std::vector<Entry> heap;  // the n largest so far, the smallest of them at the front
  heap.reserve(std::min(n, rooms_.size()));
  for (const auto& [name, room] : rooms_) {
    Entry entry{room.subscribers.size(), &name};
    if (heap.size() < n) {
      heap.push_back(entry);
      std::push_heap(heap.begin(), heap.end(), larger);
    } else if (larger(entry, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), larger);
      heap.back() = entry;
      std::push_heap(heap.begin(), heap.end(), larger);
    }
  }
  std::sort(heap.begin(), heap.end(), larger);
  largest.reserve(heap.size());
  for (const auto& [subscribers, name] : heap) largest.push_back({*name, subscribers});
  return largest;
}

RoomRegistry::RoomPage RoomRegistry::rooms_after(const std::string& after, std::size_t limit,
                                                 const std::function<bool(const std::string& room)>& wanted) const {
  RoomPage page;
  {
    std::shared_lock lock(mutex_);
    for (const auto& [name, room] : rooms_)
      if ((after.empty() || name > after) && wanted(name)) page.rooms.push_back({name, room.subscribers.size()});
  }
  auto by_name = [](const RoomSize& a, const RoomSize& b) { return a.room < b.room; };
  if (page.rooms.size() > limit) {
    std::nth_element(page.rooms.begin(), page.rooms.begin() + static_cast<std::ptrdiff_t>(limit), page.rooms.end(),
                     by_name);
    page.rooms.resize(limit);
    page.more = true;
  }
  std::sort(page.rooms.begin(), page.rooms.end(), by_name);
  return page;
}

void RoomRegistry::clear() {
  std::unique_lock lock(mutex_);
  rooms_.clear();
  memberships_.clear();
  subscriptions_ = 0;
}

}  // namespace switchboard::server
