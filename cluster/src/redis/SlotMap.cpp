#include "redis/SlotMap.h"

#include "redis/HashSlot.h"

namespace switchboard::cluster {

namespace {

bool slots_reply_error(std::string* error, std::string why) {
  if (error) *error = std::move(why);
  return false;
}

// One node of an entry: [endpoint, port, id, …].
bool parse_node(const redisReply* r, std::string_view answered_by, SlotMap::Endpoint& out,
                std::string* error) {
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 2)
    return slots_reply_error(error, "a node is not [endpoint, port, …]");
  const redisReply* host = r->element[0];
  const redisReply* port = r->element[1];
  if (host->type == REDIS_REPLY_NIL || (host->type == REDIS_REPLY_STRING && host->len == 0))
    out.host = std::string(answered_by);
  else if (host->type == REDIS_REPLY_STRING)
    out.host.assign(host->str, host->len);
  else
    return slots_reply_error(error, "a node's endpoint is neither a string nor null");
  if (port->type != REDIS_REPLY_INTEGER || port->integer < 0 || port->integer > 65535)
    return slots_reply_error(error, "a node's port is not a port number");
  out.port = static_cast<std::uint16_t>(port->integer);
  if (r->elements >= 3) {
    const redisReply* id = r->element[2];
    if (id->type != REDIS_REPLY_STRING) return slots_reply_error(error, "a node's id is not a string");
    out.id.assign(id->str, id->len);
  }
  return true;
}

}  // namespace

SlotMap::SlotMap() { owner_.fill(-1); }

std::optional<SlotMap> SlotMap::parse(const redisReply* reply, std::string_view answered_by,
                                      std::string* error) {
  if (!reply || reply->type != REDIS_REPLY_ARRAY) {
    slots_reply_error(error, "CLUSTER SLOTS did not answer an array");
    return std::nullopt;
  }
  SlotMap map;
  for (std::size_t i = 0; i < reply->elements; ++i) {
    const redisReply* entry = reply->element[i];
    if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 3 ||
        entry->element[0]->type != REDIS_REPLY_INTEGER || entry->element[1]->type != REDIS_REPLY_INTEGER) {
      slots_reply_error(error, "an entry is not [first, last, master, …]");
      return std::nullopt;
    }
    long long first = entry->element[0]->integer, last = entry->element[1]->integer;
    if (first < 0 || last < first || last >= HashSlot::count) {
      slots_reply_error(error, "an entry's slots are not a range of 0 … 16383");
      return std::nullopt;
    }
    Shard shard;
    if (!parse_node(entry->element[2], answered_by, shard.master, error)) return std::nullopt;
    for (std::size_t r = 3; r < entry->elements; ++r) {
      Endpoint replica;
      if (!parse_node(entry->element[r], answered_by, replica, error)) return std::nullopt;
      shard.replicas.push_back(std::move(replica));
    }
    std::size_t index = map.shard_with_master(shard.master);
    Shard& kept = map.shards_[index];
    for (auto& replica : shard.replicas) {
      bool known = false;
      for (const auto& k : kept.replicas) known = known || (k.same_address(replica) && k.id == replica.id);
      if (!known) kept.replicas.push_back(std::move(replica));
    }
    for (long long slot = first; slot <= last; ++slot)
      map.owner_[static_cast<std::size_t>(slot)] = static_cast<std::int16_t>(index);
  }
  return map;
}

// The shard whose master is `master` (same id, or the same address when either has no id); a
// new one when there is none.
std::size_t SlotMap::shard_with_master(const Endpoint& master) {
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    const Endpoint& m = shards_[i].master;
    bool same = !m.id.empty() && !master.id.empty() ? m.id == master.id : m.same_address(master);
    if (same) return i;
  }
  shards_.push_back(Shard{master, {}});
  return shards_.size() - 1;
}

const SlotMap::Shard* SlotMap::shard_of(int slot) const {
  if (slot < 0 || slot >= HashSlot::count) return nullptr;
  auto index = owner_[static_cast<std::size_t>(slot)];
  return index < 0 ? nullptr : &shards_[static_cast<std::size_t>(index)];
}

std::size_t SlotMap::covered() const {
  std::size_t n = 0;
  for (auto index : owner_) n += index >= 0 ? 1 : 0;
  return n;
}

void SlotMap::apply_moved(int slot, const Endpoint& master) {
  if (slot < 0 || slot >= HashSlot::count) return;
  // A MOVED names an address only: the shard whose master has it, else a new one.
  std::size_t index = shards_.size();
  for (std::size_t i = 0; i < shards_.size(); ++i)
    if (shards_[i].master.same_address(master)) index = i;
  if (index == shards_.size()) shards_.push_back(Shard{master, {}});
  owner_[static_cast<std::size_t>(slot)] = static_cast<std::int16_t>(index);
  ++version_;
}

}  // namespace switchboard::cluster
