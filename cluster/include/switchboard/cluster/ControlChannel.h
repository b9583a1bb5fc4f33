#pragma once
// The nodes' control channel, which the server API (POST /api/disconnect, GET /api/rooms, …) acts
// through: a query asked on one node is answered by every live node of the cluster, the asking one
// included, and the asker gathers the answers it got within a bounded time, with how many nodes
// the cluster knows. Embedded default: InProcessControlChannel (the node alone). Cluster: a Redis
// implementation (pub/sub on P control, answers on each node's P control:<node>).
//
// A query may also be a standing order (ask's `keep_until`): kept until then, and answered again
// by every node that starts (or reaches Redis again) meanwhile, without anyone gathering the
// answers: what a deny-list entry needs to reach the nodes that were not there when it was made.
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

namespace switchboard::cluster {

class ControlChannel {
 public:
  // Answers a query on this node. Runs on the channel's own thread (the Redis link's strand, or
  // the asker's thread on a single node): it must not block.
  using Handler = std::function<nlohmann::json(const nlohmann::json& query)>;
  // The answers gathered (this node's among them when it could answer), and how many nodes the
  // cluster knows (at least the number of answers). No answer at all: the channel is unavailable.
  using Gathered = std::function<void(std::vector<nlohmann::json> answers, std::size_t known)>;

  virtual ~ControlChannel();

  // Before start(): who answers the queries on this node.
  virtual void set_handler(Handler handler) = 0;
  // Every live node answers `query`; `done` is called once, on any thread. With `keep_until`,
  // the query is also a standing order until then (see above).
  virtual void ask(nlohmann::json query, Gathered done,
                   std::optional<std::chrono::system_clock::time_point> keep_until = std::nullopt) = 0;

  // After the broker started, and before it stops.
  virtual void start() {}
  virtual void stop() {}
};

}  // namespace switchboard::cluster
