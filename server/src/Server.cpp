#include "switchboard/server/Server.h"

#include <sys/resource.h>

#include <boost/asio/signal_set.hpp>
#include <future>

#include "StaticDir.h"
#include "admission/DenyList.h"
#include "dispatch/ControlHandler.h"
#include "http/AdminRoutes.h"
#include "backend/AppProxy.h"
#include "backend/Webhooks.h"
#include "dispatch/Dispatcher.h"
#include "http/HttpApi.h"
#include "http/HttpRoutes.h"
#include "observability/Metrics.h"
#include "switchboard/cluster/ClusterLog.h"
#include "switchboard/cluster/InProcessControlChannel.h"
#include "switchboard/protocol/CloseCode.h"
#include "switchboard/server/Log.h"
#include "transport/FlushQueue.h"
#include "transport/Listener.h"
#include "transport/SessionContext.h"

namespace switchboard::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;

Server::Server(Config config, std::unique_ptr<auth::Authenticator> authenticator, std::unique_ptr<cluster::Broker> broker,
               std::unique_ptr<cluster::PresenceStore> presence, std::unique_ptr<cluster::ControlChannel> control)
    : config_(std::move(config)),
      metrics_(std::make_unique<Metrics>()),
      authenticator_(std::move(authenticator)),
      broker_(std::move(broker)),
      presence_(std::move(presence)),
      control_(control ? std::move(control) : std::make_unique<cluster::InProcessControlChannel>()),
      denied_(std::make_unique<DenyList>()) {
  cluster::set_log_handler([](cluster::LogSeverity severity, std::string_view text) {
    if (severity == cluster::LogSeverity::warn) log::warn(text);
    else log::info(text);
  });
  if (config_.static_dir.empty()) config_.static_dir = default_static_dir();
  if (config_.threads == 0) config_.threads = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < config_.threads; ++i) {
    iocs_.push_back(std::make_unique<net::io_context>(1));
    flush_queues_.push_back(std::make_unique<FlushQueue>(*iocs_.back()));
  }
  dispatcher_ = std::make_unique<Dispatcher>(config_, *authenticator_, *broker_, *presence_, *metrics_);
  webhooks_ = std::make_unique<Webhooks>(config_, *metrics_);
  if (!config_.webhook_urls.empty()) dispatcher_->set_webhooks(webhooks_.get());
  proxy_ = std::make_unique<AppProxy>(config_, *metrics_);
  if (config_.proxy_enabled()) dispatcher_->set_app_proxy(proxy_.get());
  routes_ = std::make_unique<HttpRoutes>(config_, *metrics_, dispatcher_->registry(), *broker_);
  dispatcher_->set_deny_list(denied_.get());
  control_handler_ = std::make_unique<ControlHandler>(*dispatcher_, *denied_);
  control_->set_handler([this](const nlohmann::json& query) { return control_handler_->answer(query); });
  // The operator dashboard shows every node of the cluster: each answers its facts on the channel.
  control_handler_->set_node_facts([this] { return routes_->admin().node_facts(routes_->draining()); });
  routes_->admin().set_control(control_.get());
  api_ = std::make_unique<HttpApi>(config_, *authenticator_, *dispatcher_, *metrics_, *control_);
  std::size_t max_connections = config_.max_connections;
  if (max_connections == 0) {
    // Each WebSocket holds one descriptor; keep some for listeners, Redis, files and logs.
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    max_connections = limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > 1000064
                          ? 1000000
                          : std::max<std::size_t>(1, static_cast<std::size_t>(limit.rlim_cur) - std::min<std::size_t>(64, limit.rlim_cur / 2));
  }
  ctx_.reset(new SessionContext{config_, *metrics_, *dispatcher_, *authenticator_, *routes_, *api_,
                                auth::OriginPolicy(config_.allowed_origins),
                                KeyedRateLimiter(config_.handshake_rate_per_ip, config_.handshake_burst_per_ip),
                                max_connections});
  ctx_->denied = denied_.get();
  // Long-polling needs no stickiness: a poll of a session another node holds is relayed there.
  poll_relay_ = std::make_unique<PollRelay>(*control_, ctx_->polls, *metrics_, config_.poll_timeout);
  ctx_->relay = poll_relay_.get();
  control_->set_listener([relay = poll_relay_.get()](const std::string& from, const nlohmann::json& message,
                                                     std::string_view payload) { relay->told(from, message, payload); });
}

Server::~Server() {
  stop(std::chrono::milliseconds(0));
}

void Server::start() {
  auto address = net::ip::make_address(config_.bind);
  std::vector<net::io_context*> iocs;
  for (auto& ioc : iocs_) iocs.push_back(ioc.get());
  plain_listener_ = std::make_shared<Listener>(iocs, tcp::endpoint(address, config_.port), nullptr, *ctx_);
  if (config_.tls_enabled()) {
    tls_.emplace(net::ssl::context::tls_server);
    tls_->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                      net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1);
    tls_->use_certificate_chain_file(config_.tls_cert);
    tls_->use_private_key_file(config_.tls_key, net::ssl::context::pem);
    tls_listener_ = std::make_shared<Listener>(iocs, tcp::endpoint(address, config_.tls_port), &*tls_, *ctx_);
  }
  for (auto& ioc : iocs_) work_.push_back(net::make_work_guard(*ioc));
  broker_->start(*iocs_.front());
  presence_->start();
  control_->start();
  webhooks_->start(*iocs_.front());
  proxy_->start(*iocs_.front());
  plain_listener_->run();
  if (tls_listener_) tls_listener_->run();
  threads_.reserve(config_.threads);
  for (unsigned i = 0; i < config_.threads; ++i)
    threads_.emplace_back([this, i] {
      FlushQueue::ThreadBinding binding(*flush_queues_[i]);
      iocs_[i]->run();
    });
  log::info("listening on http://" + config_.bind + ":" + std::to_string(port()) +
            (tls_listener_ ? " and https://" + config_.bind + ":" + std::to_string(tls_port()) : std::string()) +
            " with " + std::to_string(config_.threads) + " threads");
}

const std::string& Server::control_node() const { return control_->node(); }

std::uint16_t Server::port() const { return plain_listener_ ? plain_listener_->port() : 0; }
std::uint16_t Server::tls_port() const { return tls_listener_ ? tls_listener_->port() : 0; }

void Server::stop(std::chrono::milliseconds grace, std::chrono::milliseconds drain_delay) {
  if (stopped_) return;
  stopped_ = true;
  routes_->set_draining();
  if (!threads_.empty() && drain_delay.count() > 0) {
    log::info("draining for " + std::to_string(drain_delay.count()) + " ms: /readyz answers 503");
    std::this_thread::sleep_for(drain_delay);  // the node serves on meanwhile, on its I/O threads
  }
  if (plain_listener_) plain_listener_->stop();
  if (tls_listener_) tls_listener_->stop();
  if (!threads_.empty()) {
    dispatcher_->shutdown_all(protocol::close_code::going_away, "going away");
    dispatcher_->wait_until_no_connections(grace);
    // Peers that did not finish the close handshake in time are dropped, so that every
    // connection still leaves its rooms and presence before the node stops.
    dispatcher_->abort_all();
    dispatcher_->wait_until_no_connections(std::chrono::seconds(1));
    proxy_->stop();
    control_->stop();
    presence_->stop();  // while the event loop still runs
    broker_->stop();
    // The last events (the leaves above) go out to the backends that answer, for up to 3 s (or
    // the webhooks' timeout, if shorter): no other node will tell them.
    webhooks_->stop(std::min<std::chrono::milliseconds>(config_.webhook_timeout, std::chrono::seconds(3)));
  }
  for (auto& ioc : iocs_) ioc->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  work_.clear();
  // Sessions still registered are released with the dispatcher, before the io_context that owns their sockets.
}

int Server::wait_for_signal() {
  signals_ = std::make_unique<net::signal_set>(*iocs_.front(), SIGINT, SIGTERM, SIGHUP);
  auto caught = std::make_shared<std::promise<int>>();
  auto signal = caught->get_future();
  await_signal(std::move(caught));
  return signal.get();
}

void Server::await_signal(std::shared_ptr<std::promise<int>> caught) {
  signals_->async_wait([this, caught = std::move(caught)](const boost::system::error_code& ec, int signal) mutable {
    if (ec) {  // the signal set is going away
      if (caught) caught->set_value(0);
      return;
    }
    if (signal == SIGHUP) {
      log::info("SIGHUP received, reloading keys");
      reload();
    } else if (caught) {
      caught->set_value(signal);
      caught.reset();
    } else {
      log::info("signal " + std::to_string(signal) + " received while shutting down: ignored");
    }
    await_signal(std::move(caught));
  });
}

bool Server::reload() {
  try {
    authenticator_->reload();
    log::info("JWT keys reloaded");  // logged once the new keys are in use
    return true;
  } catch (const std::exception& e) {
    log::error(std::string("reload failed, the old keys stay in use: ") + e.what());
    return false;
  }
}

}  // namespace switchboard::server
