#pragma once
// A command's arguments in the form hiredis takes them (argv and lengths: binary-safe).
#include <cstddef>
#include <string_view>
#include <vector>

namespace switchboard::cluster {

struct RedisArgv {
  explicit RedisArgv(const std::vector<std::string_view>& args) {
    argv.reserve(args.size());
    lengths.reserve(args.size());
    for (auto a : args) {
      argv.push_back(a.data());
      lengths.push_back(a.size());
    }
  }
  int count() const { return static_cast<int>(argv.size()); }

  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
};

}  // namespace switchboard::cluster
