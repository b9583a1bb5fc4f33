#include "RedisShards.h"

#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "RedisCommand.h"

namespace switchboard::bench {

namespace {

// Runs a shell command and returns its exit status and output (stdout and stderr).
std::pair<int, std::string> shell(const std::string& command) {
  std::string out;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  std::array<char, 4096> buffer{};
  while (auto n = fread(buffer.data(), 1, buffer.size(), pipe)) out.append(buffer.data(), n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

constexpr int kSlots = 16384;

}  // namespace

RedisShards::RedisShards(std::string executable, std::string redis_cli, int cpu, std::string log_dir,
                         std::size_t masters)
    : executable_(std::move(executable)),
      redis_cli_(std::move(redis_cli)),
      cpu_(cpu),
      log_dir_(std::move(log_dir)),
      wanted_(masters) {
  if (masters < 1) throw std::invalid_argument("--redis-cluster-masters wants 1 or more");
}

RedisShards::~RedisShards() { stop(); }

void RedisShards::start() {
  for (std::size_t i = 0; i < wanted_; ++i) {
    auto master = std::make_unique<RedisProcess>(executable_, cpu_,
                                                 log_dir_ + "/redis-master-" + std::to_string(i) + ".log");
    master->cluster_node(log_dir_);
    // Kept before it starts: stop() stops it even if its start fails half-way.
    masters_.push_back(std::move(master));
    masters_.back()->start();
  }
  form();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (std::string why = unhealthy(); !why.empty(); why = unhealthy()) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("the Redis Cluster did not become healthy: " + why + " (logs in " + log_dir_ + ")");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  read_slot_ranges();
}

void RedisShards::form() {
  const auto n = masters_.size();
  if (n >= 3) {
    std::string command = redis_cli_ + " --cluster create";
    for (const auto& m : masters_) command += " 127.0.0.1:" + std::to_string(m->port());
    command += " --cluster-replicas 0 --cluster-yes";
    auto [status, out] = shell(command);
    if (status != 0 || out.find("[OK] All 16384 slots covered") == std::string::npos)
      throw std::runtime_error("redis-cli --cluster create failed: " + out);
    return;
  }
  // One or two masters: `create` refuses them. Each takes an even share of the slots, then the
  // first meets the others.
  for (std::size_t i = 0; i < n; ++i) {
    const auto first = static_cast<int>(i * kSlots / n), last = static_cast<int>((i + 1) * kSlots / n - 1);
    auto reply = redis_command(masters_[i]->port(),
                               {"CLUSTER", "ADDSLOTSRANGE", std::to_string(first), std::to_string(last)});
    if (reply != "OK") throw std::runtime_error("CLUSTER ADDSLOTSRANGE refused: " + reply.value_or("no answer"));
  }
  for (std::size_t i = 1; i < n; ++i) {
    // The bus port too: it is not the default port + 10000.
    auto reply = redis_command(masters_[0]->port(), {"CLUSTER", "MEET", "127.0.0.1", std::to_string(masters_[i]->port()),
                                                     std::to_string(masters_[i]->bus_port())});
    if (reply != "OK") throw std::runtime_error("CLUSTER MEET refused: " + reply.value_or("no answer"));
  }
}

std::string RedisShards::unhealthy() const {
  for (std::size_t i = 0; i < masters_.size(); ++i) {
    auto info = redis_command(masters_[i]->port(), {"CLUSTER", "INFO"});
    const std::string who = "master " + std::to_string(i) + " ";
    if (!info) return who + "does not answer CLUSTER INFO";
    if (auto state = redis_info_field(*info, "cluster_state"); state != "ok") return who + "cluster_state:" + state;
    if (auto known = redis_info_field(*info, "cluster_known_nodes"); known != std::to_string(masters_.size()))
      return who + "knows " + known + " nodes";
    if (auto ok = redis_info_field(*info, "cluster_slots_ok"); ok != std::to_string(kSlots))
      return who + "cluster_slots_ok:" + ok;
  }
  return "";
}

void RedisShards::read_slot_ranges() {
  // CLUSTER NODES: "<id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link> <slot or range>…"
  auto nodes = redis_command(masters_[0]->port(), {"CLUSTER", "NODES"});
  if (!nodes) throw std::runtime_error("no answer to CLUSTER NODES");
  std::istringstream lines(*nodes);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string id, address, flags, master, ping, pong, epoch, link;
    if (!(words >> id >> address >> flags >> master >> ping >> pong >> epoch >> link)) continue;
    const auto port = static_cast<std::uint16_t>(std::stoi(address.substr(address.find(':') + 1)));
    std::size_t index = masters_.size();
    for (std::size_t i = 0; i < masters_.size(); ++i)
      if (masters_[i]->port() == port) index = i;
    if (index == masters_.size()) throw std::runtime_error("CLUSTER NODES names an unknown node: " + line);
    for (std::string range; words >> range;) {
      if (range.starts_with('[')) continue;  // a slot being migrated
      const auto dash = range.find('-');
      const int first = std::stoi(range.substr(0, dash));
      const int last = dash == std::string::npos ? first : std::stoi(range.substr(dash + 1));
      slots_.push_back({{first, last}, index});
    }
  }
}

std::size_t RedisShards::master_of_room(const std::string& room) const {
  auto reply = redis_command(masters_.at(0)->port(), {"CLUSTER", "KEYSLOT", "{" + room + "}"});
  if (!reply || reply->starts_with('-')) throw std::runtime_error("CLUSTER KEYSLOT failed: " + reply.value_or(""));
  const int slot = std::stoi(*reply);
  for (const auto& [range, master] : slots_)
    if (slot >= range.first && slot <= range.second) return master;
  throw std::runtime_error("no master serves slot " + std::to_string(slot));
}

std::string RedisShards::seeds() const {
  std::string seeds = "redis://";
  for (std::size_t i = 0; i < masters_.size(); ++i)
    seeds += (i ? ",127.0.0.1:" : "127.0.0.1:") + std::to_string(masters_[i]->port());
  return seeds;
}

std::vector<std::uint16_t> RedisShards::ports() const {
  std::vector<std::uint16_t> ports;
  for (const auto& m : masters_) ports.push_back(m->port());
  return ports;
}

std::vector<ProcStats> RedisShards::stats() const {
  std::vector<ProcStats> all;
  for (const auto& m : masters_) all.push_back(m->stats());
  return all;
}

std::vector<std::string> RedisShards::stop() {
  std::vector<std::string> ended;
  for (auto& m : masters_) ended.push_back(m->stop());
  return ended;
}

}  // namespace switchboard::bench
