#include "redis/ClusterTopology.h"

#include <hiredis/hiredis.h>

#include <algorithm>

#include "redis/RedisQuery.h"
#include "switchboard/cluster/ClusterLog.h"

namespace switchboard::cluster {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct ClusterTopology::Alive {};

namespace {
bool same_owners(const SlotMap& a, const SlotMap& b) {
  for (std::uint16_t slot = 0; slot < SlotMap::kSlots; ++slot) {
    const SlotMap::Node *x = a.master_of(slot), *y = b.master_of(slot);
    if ((x == nullptr) != (y == nullptr) || (x && !(*x == *y))) return false;
  }
  return true;
}
}  // namespace

ClusterTopology::ClusterTopology(Strand strand, Options options, std::string name)
    : strand_(std::move(strand)),
      options_(std::move(options)),
      name_(std::move(name)),
      periodic_(strand_),
      soon_(strand_),
      alive_(std::make_shared<Alive>()) {}

ClusterTopology::~ClusterTopology() = default;

void ClusterTopology::start(ChangeHandler on_change) {
  on_change_ = std::move(on_change);
  refresh("start");
  start_periodic();
}

void ClusterTopology::start_periodic() {
  std::weak_ptr<Alive> alive = alive_;
  periodic_.expires_after(options_.period);
  periodic_.async_wait([this, alive](boost::system::error_code ec) {
    if (ec || !alive.lock()) return;
    refresh("periodic check");
    start_periodic();
  });
}

void ClusterTopology::stop() {
  stopped_ = true;
  alive_.reset();
  on_change_ = nullptr;
  periodic_.cancel();
  soon_.cancel();
}

void ClusterTopology::refresh(std::string_view /*why*/, bool until_changed) {
  if (stopped_) return;
  if (until_changed) {
    if (persist_until_ <= Clock::now()) persist_delay_ = milliseconds(250);
    persist_until_ = Clock::now() + options_.persist_for;
  }
  wanted_ = true;
  schedule();
}

void ClusterTopology::moved(const ClusterRedirect& redirect) {
  if (stopped_) return;
  const SlotMap::Node* now = map_.master_of(redirect.slot);
  if (!now || !(*now == redirect.to)) {
    map_.moved(redirect.slot, redirect.to);
    if (on_change_) on_change_(map_);
  }
  refresh("MOVED");
}

// Runs the wanted refresh now, or arms the timer for the earliest time it may run.
void ClusterTopology::schedule() {
  if (in_flight_ || !wanted_ || stopped_) return;
  auto due = std::max(last_run_ + options_.min_gap, Clock::now());
  if (due <= Clock::now() && !scheduled_) return run();
  if (scheduled_ && soon_.expiry() <= due) return;
  arm(due);
}

void ClusterTopology::arm(Clock::time_point at) {
  scheduled_ = true;
  soon_.expires_at(at);  // a wait armed before ends with operation_aborted
  soon_.async_wait([this, alive = std::weak_ptr<Alive>(alive_)](boost::system::error_code ec) {
    if (ec || !alive.lock()) return;
    scheduled_ = false;
    schedule();
  });
}

void ClusterTopology::run() {
  wanted_ = false;
  in_flight_ = true;
  last_run_ = Clock::now();
  ++refreshes_;
  ask(candidates(), 0);
}

void ClusterTopology::ask(std::vector<RedisAddress> candidates, std::size_t next) {
  if (next == candidates.size()) {
    in_flight_ = false;
    if (!failing_)
      log(LogSeverity::warn, "redis " + name_ + ": no node of the Redis Cluster answered CLUSTER SLOTS (" +
                                 std::to_string(candidates.size()) + " tried); trying again");
    failing_ = true;
    return finished(false);
  }
  RedisAddress address = candidates[next];
  RedisQuery::ask(strand_, address, {"CLUSTER", "SLOTS"}, options_.timing.connect_timeout,
                  [this, alive = std::weak_ptr<Alive>(alive_), candidates = std::move(candidates), next](
                      const redisReply* reply, const std::string&) mutable {
                    if (!alive.lock()) return;
                    if (!reply) return ask(std::move(candidates), next + 1);
                    std::string problem;
                    auto fresh = SlotMap::parse(*reply, candidates[next].host, problem);
                    if (!problem.empty() && problem != last_problem_) {
                      log(LogSeverity::warn, "redis " + name_ + ": " + candidates[next].describe() + ": " + problem);
                    }
                    last_problem_ = problem;
                    if (!fresh || fresh->covered() == 0) return ask(std::move(candidates), next + 1);
                    read(*fresh);
                  });
}

void ClusterTopology::read(const SlotMap& fresh) {
  in_flight_ = false;
  if (failing_) log(LogSeverity::info, "redis " + name_ + ": the Redis Cluster's layout read again");
  failing_ = false;
  bool changed = !known_ || !same_owners(map_, fresh);
  map_ = fresh;
  known_ = true;
  if (changed && on_change_) on_change_(map_);
  finished(changed);
}

// After a refresh: another one if asked for meanwhile, or while persisting without a change,
// or while some slot has no master.
void ClusterTopology::finished(bool changed) {
  if (stopped_) return;
  bool persisting = persist_until_ > Clock::now();
  if (persisting && changed) persist_until_ = {};
  bool retry = (persisting && !changed) || (known_ && map_.covered() < SlotMap::kSlots) || !known_;
  if (retry && !wanted_) {
    wanted_ = true;
    auto at = std::max(Clock::now() + persist_delay_, last_run_ + options_.min_gap);
    persist_delay_ = std::min(persist_delay_ * 2, milliseconds(2000));
    if (!scheduled_ || soon_.expiry() > at) arm(at);
    return;
  }
  if (!retry) persist_delay_ = milliseconds(250);
  schedule();
}

std::vector<RedisAddress> ClusterTopology::candidates() const {
  std::vector<RedisAddress> out;
  auto add = [&](const RedisAddress& a) {
    for (auto& o : out)
      if (o.host == a.host && o.port == a.port) return;
    out.push_back(a);
  };
  for (auto& shard : map_.shards()) add(address_of(shard.master));
  for (auto& shard : map_.shards())
    for (auto& replica : shard.replicas) add(address_of(replica));
  for (auto& seed : options_.seeds) add(seed);
  return out;
}

RedisAddress ClusterTopology::address_of(const SlotMap::Node& node) const {
  RedisAddress a;
  a.host = node.host;
  a.port = node.port;
  if (!options_.seeds.empty()) a.password = options_.seeds.front().password;
  return a;
}

}  // namespace switchboard::cluster
