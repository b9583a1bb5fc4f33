#pragma once
// Which master of a Redis Cluster serves each of the 16384 hash slots, as a node learns it from
// CLUSTER SLOTS and corrects it from -MOVED redirections.
//
// CLUSTER SLOTS answers, per range of slots, [first, last, master, replica…], each node as
// [endpoint, port, id, …] (Redis 7 adds a map of other endpoints: ignored). The endpoint follows
// the cluster's cluster-preferred-endpoint-type: an IP, a hostname, an empty string or null
// ("the node you asked"), or "?" (no usable endpoint: such a node is left out, its slots without
// a master, and the answer says so).
//
// Not thread-safe: the node keeps it on its Redis strand.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct redisReply;

namespace switchboard::cluster {

class SlotMap {
 public:
  static constexpr std::size_t kSlots = 16384;

  SlotMap() { owner_.fill(kNone); }  // no slot has a master

  struct Node {
    std::string host;
    std::uint16_t port = 0;
    std::string id;  // empty when learnt from a redirection
    bool operator==(const Node& other) const { return host == other.host && port == other.port; }
  };
  struct Shard {
    Node master;
    std::vector<Node> replicas;
  };

  // A map from a CLUSTER SLOTS reply; `asked_host` stands for empty and null endpoints.
  // nullopt, with `error` set, when the reply is not one; nodes without a usable endpoint are
  // left out and named in `error` (the map is still returned).
  static std::optional<SlotMap> parse(const redisReply& reply, std::string_view asked_host, std::string& error);

  // The master serving `slot`, or nullptr when none does (not covered, or its master unusable).
  const Node* master_of(std::uint16_t slot) const;
  // Every master with at least one slot, each once.
  std::vector<Node> masters() const;
  const std::vector<Shard>& shards() const { return shards_; }
  // The number of slots with a master (16384: the map covers the cluster).
  std::size_t covered() const;
  // -MOVED: `slot` is served by `master` now.
  void moved(std::uint16_t slot, const Node& master);

 private:
  static constexpr std::int16_t kNone = -1;
  std::int16_t shard_of(const Node& master);
  std::vector<Shard> shards_;
  std::array<std::int16_t, kSlots> owner_{};  // index into shards_, or kNone
};

}  // namespace switchboard::cluster
