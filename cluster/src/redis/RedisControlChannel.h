#pragma once
// The control channel of a cluster on Redis (ControlChannel), through the node's RedisLink:
//
//   P control            channel     every node subscribes it; a query is
//                                    {"from":<node>,"id":<n>,"query":{…}}
//   P control:<node>     channel     the asking node's: each node's answer to its query <n> is
//                                    {"id":<n>,"answer":{…}}; and what other nodes tell it:
//                                    "T" {"from":<node>,"tell":{…}} "\n" <payload, any bytes>
//   P control:standing   sorted set  standing orders, {"from":…,"id":…,"query":{…}} scored by the
//                                    time they stand until (ms since the epoch); the node that
//                                    adds one drops those that ran out
//
// (P = the cluster's prefix; the channels are sharded ones with a Redis Cluster.) The asker
// counts the nodes the cluster knows (SCARD of P nodes, the presence store's list of live nodes)
// and gathers the answers until it has as many, or the link's reply timeout passed. A node of an
// earlier version does not subscribe P control: it is known and does not answer.
//
// Every node reads the standing orders still in force, and answers each to itself, whenever its
// command connection comes up (the node starting, or back after an outage, when it may have
// missed queries).
//
// Threading: ask() from any thread; everything else on the link's strand, the handler included.
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <memory>
#include <string>

#include "redis/RedisLink.h"
#include "switchboard/cluster/ControlChannel.h"

namespace switchboard::cluster {

class RedisControlChannel final : public ControlChannel {
 public:
  explicit RedisControlChannel(std::shared_ptr<RedisLink> link);
  ~RedisControlChannel() override;

  void set_handler(Handler handler) override { handler_ = std::move(handler); }
  const std::string& node() const override { return node_id_; }
  void set_listener(Listener listener) override { listener_ = std::move(listener); }
  void tell(const std::string& to, const nlohmann::json& message, std::string_view payload = {}) override;
  std::chrono::milliseconds reply_timeout() const override;
  void ask(nlohmann::json query, Gathered done,
           std::optional<std::chrono::system_clock::time_point> keep_until = std::nullopt) override;
  void start() override;
  void stop() override;

 private:
  struct Asking {
    Gathered done;
    std::vector<nlohmann::json> answers;
    std::optional<std::size_t> known;
    std::unique_ptr<boost::asio::steady_timer> timer;
  };
  void subscribe();
  void on_query(std::string_view message);
  void on_reply(std::string_view message);
  void on_told(std::string_view message);
  // The query has every answer it waits for (or the time ran out): its asker hears them.
  void check(std::uint64_t id);
  void finish(std::uint64_t id);
  void replay_standing();
  const RedisKeys& keys() const { return link_->keys(); }

  std::shared_ptr<RedisLink> link_;
  // Expires with the channel: the link's handlers hold a weak_ptr to it. (A channel that was
  // started is stopped before it goes, while the link's strand still runs.)
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  const std::string node_id_;
  Handler handler_;
  Listener listener_;
  // On the strand.
  bool started_ = false;
  bool stopped_ = false;
  std::uint64_t next_id_ = 0;
  std::map<std::uint64_t, Asking> asking_;
};

}  // namespace switchboard::cluster
