#pragma once
// The nodes' control channel, which the server API (POST /api/disconnect, GET /api/rooms, …) acts
// through: a query asked on one node is answered by every live node of the cluster, the asking one
// included, and the asker gathers the answers it got within a bounded time, with how many nodes
// the cluster knows. Embedded default: InProcessControlChannel (the node alone). Cluster: a Redis
// implementation (pub/sub on P control, answers on each node's P control:<node>).
//
// A node may also tell one other node something (tell): a message and an opaque payload, heard
// by that node's listener, at most once and in the order told; what the long-polling relay uses
// (a poll read on one node for a session another node holds).
//
// A query may also be a standing order (ask's `keep_until`): kept until then, and answered again
// by every node that starts (or reaches Redis again) meanwhile, without anyone gathering the
// answers: what a deny-list entry needs to reach the nodes that were not there when it was made.
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
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

  // Told by another node: who told (its node()), the message, and the payload (any bytes). Runs
  // on the channel's own thread: it must not block.
  using Listener = std::function<void(const std::string& from, const nlohmann::json& message, std::string_view payload)>;
  // This node's name on the channel, which tell() addresses; empty when the node is alone (it
  // has no other node to tell, and is told nothing).
  virtual const std::string& node() const;
  // Before start(): who hears what other nodes tell this one.
  virtual void set_listener(Listener listener) { (void)listener; }
  // Any thread: tells node `to` the message and payload. Nothing says whether it was heard (the
  // node may be gone): the two nodes' own exchange says so, within reply_timeout().
  virtual void tell(const std::string& to, const nlohmann::json& message, std::string_view payload = {}) {
    (void)to, (void)message, (void)payload;
  }
  // How long an answer from another node may take: longer, and it is not coming.
  virtual std::chrono::milliseconds reply_timeout() const { return std::chrono::milliseconds(3000); }

  // After the broker started, and before it stops.
  virtual void start() {}
  virtual void stop() {}
};

}  // namespace switchboard::cluster
