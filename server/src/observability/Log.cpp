#include "switchboard/server/Log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>

namespace switchboard::server::log {

namespace {
std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<bool> g_json{false};
constexpr const char* kNames[] = {"debug", "info", "warn", "error"};
}  // namespace

void set_level(std::string_view level) {
  for (int i = 0; i < 4; ++i)
    if (level == kNames[i]) g_level = i;
}

void set_format(std::string_view format) { g_json = format == "json"; }

std::string escape(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f || c == '\\') {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += ch;
    }
  }
  return out;
}

bool enabled(Level level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

void write(Level level, std::string_view text) {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string when = std::string(stamp) + '.' + std::to_string(1000 + ms).substr(1) + 'Z';
  std::string line;
  if (g_json.load(std::memory_order_relaxed)) {
    nlohmann::json entry = {{"ts", when}, {"level", kNames[static_cast<int>(level)]}, {"msg", text}};
    line = entry.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line.reserve(text.size() + 48);
    line += when;
    line += ' ';
    line += kNames[static_cast<int>(level)];
    line += ' ';
    line += escape(text);  // one line per message, whatever clients put in it
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);  // one call per line keeps lines whole across threads
}

}  // namespace switchboard::server::log
