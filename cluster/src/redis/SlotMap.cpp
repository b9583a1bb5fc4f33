#include "redis/SlotMap.h"

#include <hiredis/hiredis.h>

#include <algorithm>

namespace switchboard::cluster {

namespace {

bool is_integer(const redisReply* r) { return r && r->type == REDIS_REPLY_INTEGER; }

// A node entry [endpoint, port, id, …]: nullopt when it has no usable endpoint.
std::optional<SlotMap::Node> node_of(const redisReply* r, std::string_view asked_host, bool& malformed) {
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2 || !is_integer(r->element[1]) ||
      r->element[1]->integer <= 0 || r->element[1]->integer > 65535) {
    malformed = true;
    return std::nullopt;
  }
  const redisReply* endpoint = r->element[0];
  SlotMap::Node node;
  if (endpoint->type == REDIS_REPLY_NIL || (endpoint->type == REDIS_REPLY_STRING && endpoint->len == 0)) {
    node.host = asked_host;
  } else if (endpoint->type == REDIS_REPLY_STRING) {
    node.host.assign(endpoint->str, endpoint->len);
    if (node.host == "?") return std::nullopt;
  } else {
    malformed = true;
    return std::nullopt;
  }
  node.port = static_cast<std::uint16_t>(r->element[1]->integer);
  if (r->elements >= 3 && r->element[2]->type == REDIS_REPLY_STRING) node.id.assign(r->element[2]->str, r->element[2]->len);
  return node;
}

}  // namespace

std::optional<SlotMap> SlotMap::parse(const redisReply& reply, std::string_view asked_host, std::string& error) {
  error.clear();
  if (reply.type != REDIS_REPLY_ARRAY) {
    error = reply.type == REDIS_REPLY_ERROR ? std::string(reply.str, reply.len) : "CLUSTER SLOTS: not an array";
    return std::nullopt;
  }
  SlotMap map;
  for (std::size_t i = 0; i < reply.elements; ++i) {
    const redisReply* range = reply.element[i];
    if (range->type != REDIS_REPLY_ARRAY || range->elements < 3 || !is_integer(range->element[0]) ||
        !is_integer(range->element[1]) || range->element[0]->integer < 0 ||
        range->element[1]->integer >= static_cast<long long>(kSlots) ||
        range->element[0]->integer > range->element[1]->integer) {
      error = "CLUSTER SLOTS: a malformed slot range";
      return std::nullopt;
    }
    bool malformed = false;
    auto master = node_of(range->element[2], asked_host, malformed);
    if (malformed) {
      error = "CLUSTER SLOTS: a malformed node";
      return std::nullopt;
    }
    auto first = range->element[0]->integer, last = range->element[1]->integer;
    if (!master) {
      if (!error.empty()) error += "; ";
      error += "slots " + std::to_string(first) + "-" + std::to_string(last) + " have a master without a usable endpoint";
      continue;
    }
    std::int16_t shard = map.shard_of(*master);
    if (map.shards_[shard].master.id.empty()) map.shards_[shard].master.id = master->id;
    for (std::size_t r = 3; r < range->elements; ++r) {
      auto replica = node_of(range->element[r], asked_host, malformed);
      if (malformed) {
        error = "CLUSTER SLOTS: a malformed node";
        return std::nullopt;
      }
      auto& replicas = map.shards_[shard].replicas;
      if (replica && std::find(replicas.begin(), replicas.end(), *replica) == replicas.end()) replicas.push_back(*replica);
    }
    std::fill(map.owner_.begin() + first, map.owner_.begin() + last + 1, shard);
  }
  return map;
}

std::int16_t SlotMap::shard_of(const Node& master) {
  for (std::size_t i = 0; i < shards_.size(); ++i)
    if (shards_[i].master == master) return static_cast<std::int16_t>(i);
  shards_.push_back(Shard{master, {}});
  return static_cast<std::int16_t>(shards_.size() - 1);
}

const SlotMap::Node* SlotMap::master_of(std::uint16_t slot) const {
  if (slot >= kSlots || owner_[slot] == kNone) return nullptr;
  return &shards_[static_cast<std::size_t>(owner_[slot])].master;
}

std::vector<SlotMap::Node> SlotMap::masters() const {
  std::vector<bool> used(shards_.size(), false);
  for (auto owner : owner_)
    if (owner != kNone) used[static_cast<std::size_t>(owner)] = true;
  std::vector<Node> out;
  for (std::size_t i = 0; i < shards_.size(); ++i)
    if (used[i]) out.push_back(shards_[i].master);
  return out;
}

std::size_t SlotMap::covered() const {
  return static_cast<std::size_t>(std::count_if(owner_.begin(), owner_.end(), [](auto o) { return o != kNone; }));
}

void SlotMap::moved(std::uint16_t slot, const Node& master) {
  if (slot >= kSlots) return;
  owner_[slot] = shard_of(master);
}

}  // namespace switchboard::cluster
