#pragma once
// The node's two-way index of local subscriptions: room → connections and connection → rooms.
// The first local subscriber of a room subscribes the node to it on the broker, the last one
// to leave unsubscribes it; an empty room is forgotten.
//
// A new subscription starts *held*: the room's messages that arrive for it are kept aside until
// release(), which queues first the messages recovered from history and then the held ones
// that come after them, by offset — so that the connection gets every message after its
// position once, in order, whatever raced with its subscribe.
//
// A subscriber is never left behind silently: when the room's next message does not follow
// the subscriber's position (the room's epoch changed — its history was lost and numbering
// started again — or offsets are missing: the node lost messages on the way), the message is
// preceded by {"type":"subscribed","room":…,"offset":N,"epoch":…,"recovered":false} saying where
// the room stands just before it. The broker can also tell of a new position without a message
// (a null frame), announced the same way. One comparison per message covers the room's direct
// subscribers; only an announcement costs a frame per subscriber.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "dispatch/Connection.h"
#include "switchboard/cluster/Broker.h"

namespace switchboard::server {

class RoomRegistry {
 public:
  enum class AddResult { added, updated, too_many_rooms };

  // `held_limit`: bytes of messages a held subscription keeps before it overflows.
  explicit RoomRegistry(cluster::Broker& broker, std::size_t held_limit = 1024 * 1024) : broker_(broker), held_limit_(held_limit) {}

  // Subscribes `conn` to `room`, held; a second add only updates the presence flag.
  AddResult add(const std::shared_ptr<Connection>& conn, const std::string& room, bool presence,
                std::size_t max_rooms);
  // Unsubscribes; false when `conn` was not subscribed to `room`.
  bool remove(cluster::ConnectionId conn, const std::string& room);
  // Unsubscribes `conn` from every room and returns those rooms.
  std::vector<std::string> remove_all(cluster::ConnectionId conn);

  bool contains(cluster::ConnectionId conn, const std::string& room) const;

  enum class ReleaseResult { released, overflowed, gone };
  // Ends the hold of a new subscription: queues `recovered` (where its offsets skip some, lost in
  // a failover, the position before the next first), then the held messages with an offset
  // after both `after` and the last recovered one, and from then on delivers directly.
  // `overflowed` when more than the held limit arrived meanwhile (the held messages are
  // dropped: the caller closes the connection as a slow consumer); `gone` when not subscribed.
  ReleaseResult release(const std::shared_ptr<Connection>& conn, const std::string& room,
                        const protocol::StreamPosition& after, const std::vector<cluster::Broker::Entry>& recovered);

  struct Subscription {
    std::string room;
    bool presence = false;
  };
  // The rooms `conn` is subscribed to, with their presence flags.
  std::vector<Subscription> subscriptions_of(cluster::ConnectionId conn) const;

  // Queues the room's message `frame` (number `offset`) to every subscriber of `room`, or holds
  // it for those being subscribed. Returns how many connections it was queued or held for.
  // A null `frame`: no message, the room now stands at {offset, epoch} (the broker could not bring
  // every message before it); subscribers behind it get the recovered:false announcement.
  std::size_t deliver(const std::string& room, const protocol::Payload& frame, std::uint64_t offset,
                      std::string_view epoch);
  // Queues a presence event to the subscribers that asked for them.
  std::size_t deliver_presence(const std::string& room, const protocol::Payload& frame);

  std::size_t room_count() const;
  std::size_t subscription_count() const;

  struct RoomSize {
    std::string room;
    std::size_t subscribers = 0;
  };
  // The `n` rooms with the most local subscribers, most first (ties by name). One pass over the
  // rooms under the shared lock, keeping the `n` largest in a heap: subscribes and unsubscribes
  // wait for it, deliveries do not.
  std::vector<RoomSize> largest_rooms(std::size_t n) const;
  // The first `limit` rooms (by name) after `after` (every room when empty) that `wanted`
  // accepts, with their local subscribers, in order of name; `more` says whether others follow.
  // One pass over the rooms under the shared lock, as largest_rooms.
  struct RoomPage {
    std::vector<RoomSize> rooms;
    bool more = false;
  };
  RoomPage rooms_after(const std::string& after, std::size_t limit,
                       const std::function<bool(const std::string& room)>& wanted) const;
  // Drops every subscription without touching the broker (node teardown).
  void clear();

 private:
  // Messages kept for a subscription being answered; filled under the registry's shared lock
  // by concurrent deliveries, hence its own lock. After release() it only holds the floor:
  // messages up to it were queued by release(), and one may still come directly (in a cluster,
  // history is read on another Redis connection than messages arrive on); the first message
  // past the floor ends it.
  struct HeldMessage {
    std::uint64_t offset = 0;
    std::string epoch;
    protocol::Payload push;  // null: a new position without a message
  };
  struct Held {
    std::mutex mutex;
    std::vector<HeldMessage> messages;
    std::size_t bytes = 0;
    bool overflowed = false;
    bool released = false;
    protocol::StreamPosition floor;
  };
  struct Subscriber {
    std::shared_ptr<Connection> conn;
    bool presence = false;
    std::shared_ptr<Held> held;  // until release()
  };
  struct Room {
    std::vector<Subscriber> subscribers;  // unordered; removal swaps with the last
    // The last message (or position) deliver() was given: where every subscriber that is no
    // longer held stands. Touched only by the room's deliveries, which never overlap.
    protocol::StreamPosition position;
  };
  // Per connection: room → index of the connection in that room's subscriber vector.
  using Memberships = std::unordered_map<std::string, std::size_t>;

  void erase_subscriber(const std::string& room_name, std::size_t index);

  cluster::Broker& broker_;
  std::size_t held_limit_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, Room> rooms_;
  std::unordered_map<cluster::ConnectionId, Memberships> memberships_;
  std::size_t subscriptions_ = 0;
};

}  // namespace switchboard::server
