#include "transport/Inbox.h"

#include <algorithm>
#include <boost/asio/post.hpp>

namespace switchboard::server {

boost::asio::execution_context::id Inbox::id;

Inbox::Inbox(boost::asio::io_context& ioc) : boost::asio::execution_context::service(ioc), ioc_(ioc) {}

void Inbox::deliver(std::shared_ptr<Receiver> receiver, protocol::Payload frame, Clock::time_point at) {
  append({std::move(receiver), std::move(frame), at, {}});
}

void Inbox::post(std::shared_ptr<Receiver> receiver, std::function<void()> task) {
  append({std::move(receiver), nullptr, {}, std::move(task)});
}

namespace {
thread_local Inbox::Batch* current_batch = nullptr;
}  // namespace

Inbox::Batch::Batch() {
  if (current_batch) return;
  current_batch = this;
  active_ = true;
}

Inbox::Batch::~Batch() {
  if (!active_) return;
  current_batch = nullptr;  // what the shares' appends post is handed over at once
  for (auto& share : shares_) share.inbox->hand_over(share.entries.data(), share.entries.size());
}

void Inbox::append(Entry entry) {
  if (auto* batch = current_batch) {
    auto share = std::find_if(batch->shares_.begin(), batch->shares_.end(),
                              [this](const Batch::Share& s) { return s.inbox == this; });
    if (share == batch->shares_.end()) share = batch->shares_.insert(share, Batch::Share{this, {}});
    share->entries.push_back(std::move(entry));
    return;
  }
  hand_over(&entry, 1);
}

void Inbox::hand_over(Entry* entries, std::size_t count) {
  bool first;
  {
    std::lock_guard lock(mutex_);
    first = entries_.empty();
    for (std::size_t i = 0; i < count; ++i) entries_.push_back(std::move(entries[i]));
  }
  // One drain per batch: entries appended meanwhile wait for the drain already posted.
  if (first) boost::asio::post(ioc_, [this] { drain(); });
}

void Inbox::drain() {
  {
    std::lock_guard lock(mutex_);
    draining_.swap(entries_);
  }
  // What is handed over while this batch runs goes into entries_ and posts the next drain.
  for (auto& entry : draining_) {
    if (entry.frame) entry.receiver->receive(std::move(entry.frame), entry.at);
    else entry.receiver->run(entry.task);
  }
  draining_.clear();
}

void Inbox::shutdown() {
  std::deque<Entry> dropped;
  {
    std::lock_guard lock(mutex_);
    dropped.swap(entries_);
  }
  draining_.clear();
}

}  // namespace switchboard::server
