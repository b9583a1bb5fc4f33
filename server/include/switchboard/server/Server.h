#pragma once
// A Switchboard node: I/O threads, listeners (plain and TLS), the broker and its seams.
// main() builds one from the configuration; tests build one in-process on free ports.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "switchboard/auth/Authenticator.h"
#include "switchboard/cluster/Broker.h"
#include "switchboard/cluster/ControlChannel.h"
#include "switchboard/cluster/PresenceStore.h"
#include "switchboard/server/Config.h"

namespace switchboard::server {

// The node's own parts, private to the server library (server/src).
class ControlHandler;
class DenyList;
class Dispatcher;
class FlushQueue;
class HttpApi;
class HttpRoutes;
class Listener;
class Metrics;
class AppProxy;
class Webhooks;
struct SessionContext;
class PollRelay;

class Server {
 public:
  // `control`: the nodes' control channel (the server API's); null: the node alone's.
  Server(Config config, std::unique_ptr<auth::Authenticator> authenticator, std::unique_ptr<cluster::Broker> broker,
         std::unique_ptr<cluster::PresenceStore> presence, std::unique_ptr<cluster::ControlChannel> control = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listeners and starts the I/O threads. Throws when a port or the TLS files fail.
  void start();
  std::uint16_t port() const;
  std::uint16_t tls_port() const;  // 0 without TLS

  // Drains for `drain_delay` (/readyz 503, new WebSockets refused, open ones still served),
  // then stops accepting, closes every WebSocket with 1001 "going away", waits up to `grace`
  // for them to finish, and stops the threads. Idempotent; not from an I/O thread.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(2),
            std::chrono::milliseconds drain_delay = std::chrono::milliseconds(0));
  // Blocks until SIGINT or SIGTERM; returns the signal number. SIGHUP meanwhile reloads. The
  // signals stay caught until the Server is destroyed: during the shutdown a second SIGINT or
  // SIGTERM is logged and ignored (the shutdown is bounded, and cutting it short would leave
  // clients without their 1001), and SIGHUP still reloads.
  int wait_for_signal();
  // Re-reads the authenticator's key files (what SIGHUP does). False, with the error logged,
  // when the new keys are unusable: the old ones then stay in use.
  bool reload();

  const Config& config() const { return config_; }
  Metrics& metrics() { return *metrics_; }
  const Dispatcher& dispatcher() const { return *dispatcher_; }
  // This node's name on the cluster's control channel (empty when it runs alone).
  const std::string& control_node() const;

 private:
  // One io_context per I/O thread; a connection lives on one of them, all its handlers on
  // that thread, so it needs no strand. Declared first: destroyed last, after everything bound
  // to them. The first also runs the listeners, the broker and the signals.
  std::vector<std::unique_ptr<boost::asio::io_context>> iocs_;
  std::vector<std::unique_ptr<FlushQueue>> flush_queues_;  // one per io_context
  std::optional<boost::asio::ssl::context> tls_;
  Config config_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<auth::Authenticator> authenticator_;
  std::unique_ptr<cluster::Broker> broker_;
  std::unique_ptr<cluster::PresenceStore> presence_;
  std::unique_ptr<cluster::ControlChannel> control_;  // starts after the presence store, stops before it
  std::unique_ptr<DenyList> denied_;
  std::unique_ptr<Webhooks> webhooks_;  // on a strand of iocs_.front(); told by the dispatcher
  std::unique_ptr<AppProxy> proxy_;     // on a strand of iocs_.front(); asked by the dispatcher and the HTTP API
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<ControlHandler> control_handler_;
  std::unique_ptr<HttpRoutes> routes_;
  std::unique_ptr<HttpApi> api_;
  std::unique_ptr<SessionContext> ctx_;
  std::unique_ptr<PollRelay> poll_relay_;  // told by control_, on its thread; used by the sessions
  std::shared_ptr<Listener> plain_listener_;
  std::shared_ptr<Listener> tls_listener_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  std::unique_ptr<boost::asio::signal_set> signals_;  // on iocs_.front(), from wait_for_signal()
  bool stopped_ = false;
  // Waits for the next signal; `caught` (until the first SIGINT or SIGTERM) receives it.
  void await_signal(std::shared_ptr<std::promise<int>> caught);
};

}  // namespace switchboard::server
