#pragma once
// The idle timeout of the WebSockets of one event loop (--idle-timeout): a connection that sent
// nothing for a while is pinged, and one that stays silent after the ping is dropped.
//
// A connection holds no timer: one watch per event loop (an Asio service of the connection's
// io_context) looks at every connection of the loop each half of the timeout. A connection that
// received nothing during a whole half is pinged; one that received nothing during the half after
// its ping is told to go. So a silent connection is pinged between half the timeout and the
// timeout after it fell silent, and dropped between the timeout and one and a half. Used on the
// loop's thread only.
#include <boost/asio/io_context.hpp>
#include <memory>
#include <vector>

#include "transport/EventLoopWatch.h"

namespace switchboard::server {

class IdleWatch : public EventLoopWatch {
 public:
  static boost::asio::execution_context::id id;

  // What the watch asks of a connection, on its thread.
  class Client {
   public:
    // Something arrived: the connection is not idle.
    void heard() { heard_ = true; }

   private:
    friend class IdleWatch;
    virtual void send_ping() = 0;
    virtual void idle_timed_out() = 0;
    bool heard_ = true;
    bool pinged_ = false;

   protected:
    virtual ~Client() = default;
  };

  explicit IdleWatch(boost::asio::io_context& ioc);

  // Watches `client` while `owner` (which owns it) lives; the watch does not keep it alive.
  void watch(Client& client, const std::shared_ptr<void>& owner, Clock::duration timeout);

 private:
  struct Entry {
    Client* client;  // valid while `owner` lives
    std::weak_ptr<void> owner;
  };
  void check() override;
  // The event loop ends: the entries go.
  void shutdown() override;

  std::vector<Entry> entries_;
  Clock::duration timeout_{};
};

}  // namespace switchboard::server
