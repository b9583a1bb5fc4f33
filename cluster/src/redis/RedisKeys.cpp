#include "redis/RedisKeys.h"

#include <stdexcept>

#include "redis/HashSlot.h"

namespace switchboard::cluster {

RedisKeys::RedisKeys(std::string prefix, Layout layout)
    : prefix_(std::move(prefix)),
      layout_(layout),
      nodes_(prefix_ + (layout == Layout::tagged ? "{nodes}" : "nodes")) {
  if (layout_ == Layout::tagged && prefix_.find_first_of("{}") != std::string::npos)
    throw std::invalid_argument("the Redis prefix \"" + prefix_ +
                                "\" holds a '{' or '}': with Redis Cluster, the prefix must hold no brace");
}

std::string RedisKeys::room_key(std::string_view what, std::string_view room, std::string_view suffix) const {
  std::string key;
  key.reserve(prefix_.size() + what.size() + room.size() + suffix.size() + 2);
  key.append(prefix_).append(what);
  if (layout_ == Layout::tagged)
    key.append("{").append(room).append("}");
  else
    key.append(room);
  return key.append(suffix);
}

std::string RedisKeys::channel(std::string_view room) const { return room_key("room:", room, ""); }

std::optional<std::string> RedisKeys::room_of_channel(std::string_view channel) const {
  std::string head = prefix_ + (layout_ == Layout::tagged ? "room:{" : "room:");
  if (!channel.starts_with(head)) return std::nullopt;
  channel.remove_prefix(head.size());
  if (layout_ == Layout::tagged) {
    if (!channel.ends_with('}')) return std::nullopt;
    channel.remove_suffix(1);
  }
  return std::string(channel);
}

std::string RedisKeys::node_conns(std::string_view node) const {
  if (layout_ == Layout::tagged) return prefix_ + "node:{" + std::string(node) + "}:conns";
  return prefix_ + "node:" + std::string(node) + ":conns";
}

std::string RedisKeys::node_alive(std::string_view node) const {
  if (layout_ == Layout::tagged) return nodes_ + ":alive:" + std::string(node);
  return prefix_ + "node:" + std::string(node) + ":alive";
}

int RedisKeys::slot_of_room(std::string_view room) const { return HashSlot::of(history(room)); }

}  // namespace switchboard::cluster
