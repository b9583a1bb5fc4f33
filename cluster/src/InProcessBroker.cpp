#include "switchboard/cluster/InProcessBroker.h"

#include <boost/asio/post.hpp>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

namespace switchboard::cluster {

namespace {
constexpr std::chrono::seconds kSweepEvery{5};
}

InProcessBroker::InProcessBroker(HistoryPolicy policy, std::size_t history_max_bytes,
                                 std::chrono::milliseconds idempotency_window)
    : history_(std::move(policy), history_max_bytes), idempotency_(idempotency_window) {}

Broker::Stats InProcessBroker::stats() const {
  Stats stats;
  stats.history_bytes = history_.bytes();
  stats.history_evictions = history_.evictions();
  stats.duplicate_publishes = idempotency_.duplicates();
  return stats;
}


InProcessBroker::~InProcessBroker() = default;

void InProcessBroker::set_deliver_handler(DeliverHandler handler) { deliver_ = std::move(handler); }

void InProcessBroker::publish(const std::string& room, protocol::Payload push, PublishHandler done,
                              const std::string& idem) {
  // Keyed by room: the same key in another room is another publish.
  const std::string key = idem.empty() ? std::string() : room + '\n' + idem;
  if (!key.empty() && !idempotency_.claim(key, done)) return;
  // Should the append throw, the key is freed (the publishes waiting for it hear nullopt).
  struct Claim {
    IdempotencyKeys* keys;
    const std::string& key;
    ~Claim() {
      if (keys) keys->settle(key, std::nullopt);
    }
  } claim{key.empty() ? nullptr : &idempotency_, key};
  std::uint64_t offset = history_.append(room, push, [&](const protocol::Payload& numbered, std::uint64_t n, std::string_view epoch) {
    if (deliver_) deliver_(room, numbered, n, epoch);
  });
  if (claim.keys) idempotency_.settle(key, offset);
  claim.keys = nullptr;
  done(offset);
}

void InProcessBroker::history(const std::string& room, std::optional<std::uint64_t> after, std::size_t limit,
                           HistoryHandler done) {
  done(history_.read(room, after, limit));
}

// The node's room registry already knows which rooms have local subscribers, and a single node
// has no one else to tell; the history keeps those rooms' numbering.
void InProcessBroker::subscribe(const std::string& room) { history_.retain(room, true); }
void InProcessBroker::unsubscribe(const std::string& room) { history_.retain(room, false); }

struct InProcessBroker::Sweeper {
  // On a strand of its own: stop() cancels it from another thread.
  Sweeper(boost::asio::io_context& ioc, InProcessHistory& history)
      : timer(boost::asio::make_strand(ioc)), history(history) {}
  void schedule() {
    timer.expires_after(kSweepEvery);
    timer.async_wait([this](boost::system::error_code ec) {
      if (ec || stopped) return;
      history.sweep();
      schedule();
    });
  }
  boost::asio::steady_timer timer;
  InProcessHistory& history;
  std::atomic<bool> stopped{false};
};

void InProcessBroker::start(boost::asio::io_context& ioc) {
  sweeper_ = std::make_unique<Sweeper>(ioc, history_);
  boost::asio::post(sweeper_->timer.get_executor(), [s = sweeper_.get()] { s->schedule(); });
}

void InProcessBroker::stop() {
  if (!sweeper_) return;
  sweeper_->stopped = true;
  boost::asio::post(sweeper_->timer.get_executor(), [s = sweeper_.get()] { s->timer.cancel(); });
}

}  // namespace switchboard::cluster
