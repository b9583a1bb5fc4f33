#include "Deployment.h"

#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace switchboard::bench {

namespace {

std::string default_node_path() {
  // ../server/switchboard relative to this executable (<build>/bench/switchboard-bench).
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "switchboard";
  return (self.parent_path().parent_path() / "server" / "switchboard").string();
}

std::vector<std::string> split(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

}  // namespace

Deployment::Deployment(Options& options)
    : nats_(options.text("broker", "switchboard") == "nats"),
      executable_(options.text("node", default_node_path())),
      wrapper_(split(options.text("node-wrapper", ""))),
      extra_args_(options.all("node-arg")),
      cpu_(static_cast<int>(options.integer("node-cpu", 0))),
      threads_(static_cast<int>(options.integer("node-threads", 1))),
      redis_executable_(options.text("redis-server", "redis-server")),
      with_replica_(options.flag("redis-replica")),
      cluster_masters_(options.size("redis-cluster-masters", 0)),
      redis_cli_(options.text("redis-cli", "redis-cli")),
      log_dir_(options.text("log-dir", "/tmp/switchboard-bench-" + std::to_string(getpid()))) {
  // Both paths are read either way, so one command line serves both brokers.
  if (const auto nats_server = options.text("nats-server", "nats-server"); nats_) executable_ = nats_server;
  if (const auto broker = options.text("broker", "switchboard"); broker != "switchboard" && broker != "nats")
    throw std::invalid_argument("--broker wants switchboard or nats, not " + broker);
  if (options.integer("redis-cluster-masters", 0) < 0)
    throw std::invalid_argument("--redis-cluster-masters wants 1 or more");
  if (with_replica_ && cluster_masters_ > 0)
    throw std::invalid_argument("--redis-replica and --redis-cluster-masters do not go together");
  std::filesystem::create_directories(log_dir_);
}

Deployment::~Deployment() { stop(); }

nlohmann::ordered_json Deployment::with_one_node(
    Options& options, const std::function<nlohmann::ordered_json(Deployment&)>& measure) {
  Deployment deployment(options);
  options.reject_unknown();
  deployment.start(1);
  auto out = measure(deployment);
  deployment.finish(out);
  return out;
}

void Deployment::start(int nodes) {
  if (nats_ && nodes > 1) throw std::invalid_argument("--broker nats runs one nats-server only");
  std::string redis_url;
  if (nodes > 1 && cluster_masters_ > 0) {
    shards_ = std::make_unique<RedisShards>(redis_executable_, redis_cli_, cpu_, log_dir_, cluster_masters_);
    shards_->start();
    redis_url = shards_->seeds();
  } else if (nodes > 1) {
    redis_ = std::make_unique<RedisProcess>(redis_executable_, cpu_, log_dir_ + "/redis.log");
    redis_->start();
    redis_url = redis_->url();
    if (with_replica_) {
      auto port = static_cast<std::uint16_t>(std::stoi(redis_url.substr(redis_url.rfind(':') + 1)));
      replica_ = std::make_unique<RedisProcess>(redis_executable_, cpu_, log_dir_ + "/redis-replica.log", port);
      replica_->start();
    }
  }
  for (int i = 0; i < nodes; ++i) {
    NodeSettings s{executable_,
                   wrapper_,
                   extra_args_,
                   cpu_,
                   threads_,
                   redis_url,
                   shards_ != nullptr,
                   log_dir_ + (nats_ ? "/nats-server-" : "/node-") + std::to_string(i) + ".log",
                   nats_};
    nodes_.push_back(std::make_unique<NodeProcess>(std::move(s)));
    nodes_.back()->start(wrapper_.empty() ? std::chrono::seconds(30) : std::chrono::seconds(120));
  }
}

nlohmann::ordered_json Deployment::stop() {
  nlohmann::ordered_json ended = nlohmann::ordered_json::array();
  for (auto& n : nodes_) {
    ended.push_back(n->stop(wrapper_.empty() ? std::chrono::seconds(10) : std::chrono::seconds(120)));
  }
  if (replica_) replica_->stop();
  if (redis_) redis_->stop();
  if (shards_) shards_->stop();
  return ended;
}

void Deployment::finish(nlohmann::ordered_json& out) {
  out["deployment"] = describe();
  out["node_exit"] = stop();
}

boost::asio::ip::tcp::endpoint Deployment::endpoint(std::size_t i) const {
  return {boost::asio::ip::make_address("127.0.0.1"), nodes_[i]->port()};
}

ProcStats Deployment::stats() const {
  ProcStats total;
  for (const auto& n : nodes_) {
    auto s = n->stats();
    total.cpu_us += s.cpu_us;
    total.sys_us += s.sys_us;
    total.rss_kib += s.rss_kib;
  }
  return total;
}

ProcStats Deployment::redis_stats() const {
  ProcStats total;
  for (const auto& s : redis_stats_per_master()) {
    total.cpu_us += s.cpu_us;
    total.sys_us += s.sys_us;
    total.rss_kib += s.rss_kib;
  }
  return total;
}

std::vector<std::uint16_t> Deployment::redis_ports() const {
  if (shards_) return shards_->ports();
  if (redis_) return {redis_->port()};
  return {};
}

std::vector<ProcStats> Deployment::redis_stats_per_master() const {
  if (shards_) return shards_->stats();
  if (redis_) return {redis_->stats()};
  return {};
}

ProcStats Deployment::settled_stats() const {
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  return stats();
}

bool Deployment::alive() {
  for (auto& n : nodes_)
    if (!n->alive()) return false;
  return true;
}

double Deployment::metric(const std::string& name) const {
  double sum = 0;
  for (const auto& n : nodes_) {
    auto m = n->metrics();
    if (auto it = m.find(name); it != m.end()) sum += it->second;
  }
  return sum;
}

nlohmann::ordered_json Deployment::metrics_report() const {
  std::map<std::string, double> sum;
  for (const auto& n : nodes_)
    for (const auto& [name, value] : n->metrics()) sum[name] += value;
  auto get = [&](const std::string& name) { return sum.count(name) ? sum[name] : 0.0; };
  // nats-server's /varz, as NodeProcess::metrics() names it.
  if (nats_)
    return {{"deliveries", get("switchboard_deliveries_total")},
            {"messages_published", get("switchboard_messages_published_total")},
            {"slow_consumers", get("switchboard_slow_consumers_total")}};
  nlohmann::ordered_json report{{"deliveries", get("switchboard_deliveries_total")},
                                {"frames_sent", get("switchboard_frames_sent_total")},
                                {"socket_writes", get("switchboard_socket_writes_total")},
                                {"messages_published", get("switchboard_messages_published_total")},
                                {"slow_consumers", get("switchboard_slow_consumers_total")},
                                {"sent_bytes", get("switchboard_sent_bytes_total")}};
  if (const double deflated = get("switchboard_deflate_frames_sent_total"); deflated > 0) {
    report["deflate_frames_sent"] = deflated;
    report["deflate_saved_bytes"] = get("switchboard_deflate_saved_bytes_total");
  }
  // Anything that went wrong: error replies, dropped deliveries, close codes other than 1000.
  for (const auto& [name, value] : sum) {
    if (value == 0) continue;
    if (name.rfind("switchboard_request_errors_total", 0) == 0 ||
        name.rfind("switchboard_deliveries_dropped_total", 0) == 0 ||
        name.rfind("switchboard_handshakes_rejected_total", 0) == 0 ||
        (name.rfind("switchboard_closes_total", 0) == 0 && name.find("\"1000\"") == std::string::npos))
      report[name] = value;
  }
  return report;
}

nlohmann::ordered_json Deployment::describe() const {
  nlohmann::ordered_json d{{"nodes", nodes_.size()}, {"node_cpu", cpu_}, {"node_threads", threads_}};
  if (nats_) d["broker"] = "nats-server";
  if (has_redis()) d["redis_cpu"] = cpu_;
  if (shards_) d["redis_cluster_masters"] = shards_->size();
  if (replica_) d["redis_replica"] = true;
  if (!wrapper_.empty()) d["wrapper"] = wrapper_;
  nlohmann::ordered_json logs = nlohmann::ordered_json::array();
  for (const auto& n : nodes_) logs.push_back(n->log_problems());
  d["logs"] = logs;
  return d;
}

}  // namespace switchboard::bench
