#include "StaticDir.h"

#include <filesystem>
#include <system_error>

#ifndef SWITCHBOARD_WEB_CLIENT_FROM_BIN
#define SWITCHBOARD_WEB_CLIENT_FROM_BIN "../share/switchboard/web-client"
#endif

namespace switchboard::server {

std::string default_static_dir() {
  std::error_code ec;
  auto executable = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec || executable.empty()) return "web-client";
  return (executable.parent_path() / SWITCHBOARD_WEB_CLIENT_FROM_BIN).lexically_normal().string();
}

}  // namespace switchboard::server
