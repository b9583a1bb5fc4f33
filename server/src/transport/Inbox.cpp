#include "transport/Inbox.h"

#include <algorithm>
#include <boost/asio/post.hpp>

#include "transport/FlushQueue.h"

namespace switchboard::server {

boost::asio::execution_context::id Inbox::id;

Inbox::Inbox(boost::asio::io_context& ioc) : boost::asio::execution_context::service(ioc), ioc_(ioc) {}

void Inbox::deliver(std::shared_ptr<Receiver> receiver, protocol::Payload frame, Clock::time_point at) {
  append({std::move(receiver), std::move(frame), at, {}});
}

void Inbox::post(std::shared_ptr<Receiver> receiver, std::function<void()> task) {
  append({std::move(receiver), nullptr, {}, std::make_unique<std::function<void()>>(std::move(task))});
}

namespace {
thread_local Inbox::Batch* current_batch = nullptr;
}  // namespace

std::vector<Inbox::Entry> Inbox::Batch::spare_entries() {
  // A thread's batches take their shares' vectors from here and give them back once handed
  // over: a fan-out per message allocates nothing for them once the first has run.
  auto& spares = spares_of_thread();
  if (spares.empty()) return {};
  auto entries = std::move(spares.back());
  spares.pop_back();
  return entries;
}

std::vector<std::vector<Inbox::Entry>>& Inbox::Batch::spares_of_thread() {
  thread_local std::vector<std::vector<Entry>> spares;
  return spares;
}

Inbox::Batch::Batch() {
  if (current_batch) return;
  current_batch = this;
  active_ = true;
}

Inbox::Batch::~Batch() {
  if (!active_) return;
  current_batch = nullptr;  // what the shares' appends post is handed over at once
  auto& spares = spares_of_thread();
  for (auto& share : shares_) {
    share.inbox->hand_over(share.entries.data(), share.entries.size());
    share.entries.clear();
    if (share.entries.capacity() <= kKeptEntries && spares.size() < 64) spares.push_back(std::move(share.entries));
  }
}

void Inbox::append(Entry entry) {
  if (auto* batch = current_batch) {
    auto share = std::find_if(batch->shares_.begin(), batch->shares_.end(),
                              [this](const Batch::Share& s) { return s.inbox == this; });
    if (share == batch->shares_.end()) share = batch->shares_.insert(share, Batch::Share{this, Batch::spare_entries()});
    share->entries.push_back(std::move(entry));
    return;
  }
  hand_over(&entry, 1);
}

void Inbox::hand_over(Entry* entries, std::size_t count) {
  // From another I/O thread, the wakeup waits for that thread's cork.
  FlushQueue* cork = FlushQueue::current();
  if (cork && ioc_.get_executor().running_in_this_thread()) cork = nullptr;
  bool post = false;
  {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < count; ++i) entries_.push_back(std::move(entries[i]));
    // One drain per batch: entries appended meanwhile wait for the drain already posted.
    if (!cork && !drain_posted_) post = drain_posted_ = true;
  }
  if (post) boost::asio::post(ioc_, [this] { drain(); });
  if (cork) cork->owe_wakeup(*this);
}

void Inbox::wake() {
  {
    std::lock_guard lock(mutex_);
    if (drain_posted_ || entries_.empty()) return;
    drain_posted_ = true;
  }
  boost::asio::post(ioc_, [this] { drain(); });
}

void Inbox::drain() {
  {
    std::lock_guard lock(mutex_);
    draining_.swap(entries_);
    drain_posted_ = false;
  }
  // What is handed over while this batch runs goes into entries_ and posts the next drain.
  for (auto& entry : draining_) {
    if (entry.frame) entry.receiver->receive(std::move(entry.frame), entry.at);
    else entry.receiver->run(*entry.task);
    entry.receiver.reset();  // while the entry is at hand, not in a second pass over the batch
  }
  draining_.clear();
  if (draining_.capacity() > kKeptEntries) std::vector<Entry>().swap(draining_);
}

void Inbox::shutdown() {
  std::vector<Entry> dropped;
  {
    std::lock_guard lock(mutex_);
    dropped.swap(entries_);
  }
  draining_.clear();
}

}  // namespace switchboard::server
