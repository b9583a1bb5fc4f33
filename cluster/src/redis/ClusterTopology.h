#pragma once
// What a node knows of a Redis Cluster's layout: its SlotMap, read with CLUSTER SLOTS from any
// node it can reach — the masters and replicas it knows, then the seeds it was given (their
// names resolved again each time: a node that came back under a new address is found) — and
// kept current.
//
// A refresh runs at start, every `period`, and when asked: after a -MOVED, a lost connection,
// a subscription the server ended, a CLUSTERDOWN. Requests coalesce: one refresh at a time, at
// least `min_gap` apart, however many are asked for. A refresh asked with `until_changed` (a
// master's connection was lost: its replica may be about to take over, but CLUSTER SLOTS names
// the dead master until then) goes on, 250 ms apart doubling to 2 s, until the map changes or
// `persist_for` has passed.
//
// Everything on the strand, handlers included.
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "redis/ClusterRedirect.h"
#include "redis/RedisConnection.h"
#include "redis/SlotMap.h"
#include "switchboard/cluster/RedisAddress.h"
#include "switchboard/cluster/RedisTiming.h"

namespace switchboard::cluster {

class ClusterTopology {
 public:
  using Strand = RedisConnection::Strand;
  // The map changed (or was read for the first time).
  using ChangeHandler = std::function<void(const SlotMap& map)>;

  struct Options {
    std::vector<RedisAddress> seeds;  // their password is every node's
    RedisTiming timing;
    std::chrono::milliseconds period{5000};
    std::chrono::milliseconds min_gap{100};
    std::chrono::milliseconds persist_for{30000};
  };

  ClusterTopology(Strand strand, Options options, std::string name);
  ~ClusterTopology();
  ClusterTopology(const ClusterTopology&) = delete;
  ClusterTopology& operator=(const ClusterTopology&) = delete;

  void start(ChangeHandler on_change);
  void stop();
  void refresh(std::string_view why, bool until_changed = false);
  // A -MOVED: the map takes it at once (then refreshes to learn the rest).
  void moved(const ClusterRedirect& redirect);

  const SlotMap& map() const { return map_; }
  bool known() const { return known_; }  // a map has been read
  unsigned long refreshes() const { return refreshes_; }  // CLUSTER SLOTS asked, in all
  // An address of a node of the map or of the seeds, with the seeds' password.
  RedisAddress address_of(const SlotMap::Node& node) const;

 private:
  void start_periodic();
  void schedule();
  void arm(std::chrono::steady_clock::time_point at);
  void run();
  void ask(std::vector<RedisAddress> candidates, std::size_t next);
  void read(const SlotMap& fresh);
  void finished(bool changed);
  std::vector<RedisAddress> candidates() const;

  struct Alive;  // lets handlers see that the topology is gone
  Strand strand_;
  Options options_;
  std::string name_;
  ChangeHandler on_change_;
  SlotMap map_;
  bool known_ = false;
  boost::asio::steady_timer periodic_;
  boost::asio::steady_timer soon_;  // the next asked-for refresh
  bool in_flight_ = false;
  bool wanted_ = false;  // asked for while one was in flight or too soon
  bool scheduled_ = false;
  std::chrono::steady_clock::time_point last_run_{};
  // until_changed: the time it ends, and the next delay between tries.
  std::chrono::steady_clock::time_point persist_until_{};
  std::chrono::milliseconds persist_delay_{250};
  unsigned long refreshes_ = 0;
  bool failing_ = false;  // the last refresh reached no node (logged once)
  std::string last_problem_;  // with the last answer read (logged when it changes)
  bool stopped_ = false;
  std::shared_ptr<Alive> alive_;
};

}  // namespace switchboard::cluster
