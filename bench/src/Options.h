// Command-line flags of switchboard-bench: `--name value` pairs, read by typed getters with
// defaults. Every flag read is remembered, so a run's JSON line reports the parameters it used.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace switchboard::bench {

class Options {
 public:
  // Parses argv[first..argc); throws std::invalid_argument on a malformed flag.
  Options(int argc, char* argv[], int first);

  std::int64_t integer(const std::string& name, std::int64_t fallback);
  double number(const std::string& name, double fallback);
  // integer() for counts and durations.
  std::size_t size(const std::string& name, std::size_t fallback);
  std::chrono::milliseconds milliseconds(const std::string& name, std::int64_t fallback);
  std::string text(const std::string& name, const std::string& fallback);
  bool flag(const std::string& name);  // present (with no value, or "true"/"1")
  // Every value of a flag that may repeat (e.g. --node-arg).
  std::vector<std::string> all(const std::string& name);

  // The flags read so far, for the report; throws if a flag was given but never read.
  nlohmann::ordered_json used() const;
  void reject_unknown() const;

 private:
  const std::string* find(const std::string& name) const;

  std::multimap<std::string, std::string> given_;
  nlohmann::ordered_json used_ = nlohmann::ordered_json::object();
  std::map<std::string, bool> read_;
};

}  // namespace switchboard::bench
