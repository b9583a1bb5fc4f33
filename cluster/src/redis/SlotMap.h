#pragma once
// Which master of a Redis Cluster serves each of the 16384 hash slots, learnt from a CLUSTER SLOTS
// reply (Redis 3.0 and later) and corrected by MOVED redirections between two readings.
//
// CLUSTER SLOTS answers one entry per range of slots: [first, last, master, replica…], each node
// [endpoint, port, id, …] — Redis 7.0 adds a fourth element (more of the node's names, possibly
// empty), older versions may omit the id; anything after the id is ignored. The endpoint follows
// the cluster's cluster-preferred-endpoint-type: an address or a hostname, null or "" for "the
// node you asked" (replaced by that node's host), or "?" when the node has no endpoint of the
// preferred type (kept as "?": not usable, see usable()). A failed master stays listed until a
// replica takes its place; failed replicas are left out, and so (Redis 7.0, measured) are replicas
// that have replicated nothing yet (a fresh cluster's, before its first write).
//
// A shard is one master (with its replicas); ranges of the same master (by id, or by address
// when no id is given) make one shard. No routing here: the map only answers who serves a slot.
#include <hiredis/hiredis.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::cluster {

class SlotMap {
 public:
  struct Endpoint {
    std::string host;
    std::uint16_t port = 0;
    std::string id;  // the node's id; empty when Redis did not say
    // An endpoint a connection can be made to ("?" is a node with no endpoint of the kind asked for).
    bool usable() const { return !host.empty() && host != "?" && port != 0; }
    std::string describe() const { return host + ":" + std::to_string(port); }
    bool same_address(const Endpoint& other) const { return host == other.host && port == other.port; }
  };
  struct Shard {
    Endpoint master;
    std::vector<Endpoint> replicas;
  };

  // An empty map: no slot served.
  SlotMap();

  // A CLUSTER SLOTS reply, as answered by the node at `answered_by` (whose host stands in for a
  // null or empty endpoint). nullopt, with the reason in `error` when given, for a reply of
  // another shape.
  static std::optional<SlotMap> parse(const redisReply* reply, std::string_view answered_by,
                                      std::string* error = nullptr);

  // The shard serving `slot` (0 … 16383), or null when none does.
  const Shard* shard_of(int slot) const;
  const std::vector<Shard>& shards() const { return shards_; }
  // How many slots have a shard (16384 when the cluster covers every slot).
  std::size_t covered() const;
  // A MOVED redirection: `slot` is served by the master at `master` now (a shard of its own when
  // no shard has that master yet). The map's version counts these changes.
  void apply_moved(int slot, const Endpoint& master);
  std::uint64_t version() const { return version_; }

 private:
  std::size_t shard_with_master(const Endpoint& master);
  std::vector<Shard> shards_;
  std::array<std::int16_t, 16384> owner_;  // index into shards_, -1: not served
  std::uint64_t version_ = 0;
};

}  // namespace switchboard::cluster
