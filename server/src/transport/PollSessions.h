#pragma once
// The node's long-polling sessions by id: a poll names its session (?session=), and whichever
// HTTP connection, on whichever I/O thread, reads the poll finds the session here and hands the
// poll to it. Thread-safe (one mutex, a leaf: nothing is called under it).
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace switchboard::server {

class PollSession;

class PollSessions {
 public:
  void add(const std::string& id, std::shared_ptr<PollSession> session);
  // The session `id`, or null when the node has none of that id (never had, or it ended).
  std::shared_ptr<PollSession> find(const std::string& id) const;
  void remove(const std::string& id);
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<PollSession>> sessions_;
};

}  // namespace switchboard::server
