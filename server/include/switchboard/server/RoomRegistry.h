#pragma once
// The node's two-way index of local subscriptions: room → connections and connection → rooms.
// The first local subscriber of a room subscribes the node to it on the bus, the last one
// to leave unsubscribes it; an empty room is forgotten.
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "switchboard/cluster/Bus.h"
#include "switchboard/server/Connection.h"

namespace switchboard::server {

class RoomRegistry {
 public:
  enum class AddResult { added, updated, too_many_rooms };

  explicit RoomRegistry(cluster::Bus& bus) : bus_(bus) {}

  // Subscribes `conn` to `room`; a second add only updates the presence flag.
  AddResult add(const std::shared_ptr<Connection>& conn, const std::string& room, bool presence,
                std::size_t max_rooms);
  // Unsubscribes; false when `conn` was not subscribed to `room`.
  bool remove(cluster::ConnectionId conn, const std::string& room);
  // Unsubscribes `conn` from every room and returns those rooms.
  std::vector<std::string> remove_all(cluster::ConnectionId conn);

  bool contains(cluster::ConnectionId conn, const std::string& room) const;

  struct Subscription {
    std::string room;
    bool presence = false;
  };
  // The rooms `conn` is subscribed to, with their presence flags.
  std::vector<Subscription> subscriptions_of(cluster::ConnectionId conn) const;

  // Queues `frame` to every subscriber of `room` (or, for presence events, only to those that
  // asked for them). Returns how many connections it was queued to.
  std::size_t deliver(const std::string& room, const protocol::Payload& frame);
  std::size_t deliver_presence(const std::string& room, const protocol::Payload& frame);

  std::size_t room_count() const;
  std::size_t subscription_count() const;
  // Drops every subscription without touching the bus (node teardown).
  void clear();

 private:
  struct Subscriber {
    std::shared_ptr<Connection> conn;
    bool presence = false;
  };
  struct Room {
    std::vector<Subscriber> subscribers;  // unordered; removal swaps with the last
  };
  // Per connection: room → index of the connection in that room's subscriber vector.
  using Memberships = std::unordered_map<std::string, std::size_t>;

  void erase_subscriber(const std::string& room_name, std::size_t index);

  cluster::Bus& bus_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, Room> rooms_;
  std::unordered_map<cluster::ConnectionId, Memberships> memberships_;
  std::size_t subscriptions_ = 0;
};

}  // namespace switchboard::server
