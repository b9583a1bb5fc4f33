#pragma once
// Leveled logging to stderr, one line per call: plain text, or one JSON object per line
// ({"ts":…,"level":…,"msg":…}) for log collectors. Never log tokens or message bodies.
//
// Messages hold what clients chose (user ids, room names, reasons): in the text format, control
// characters (0x00-0x1F, 0x7F) and the backslash are written as \xHH, as nginx does, so that no
// client can end a line or forge one; every other byte (UTF-8 included) is written as is. The
// JSON format escapes them as JSON does.
#include <string>
#include <string_view>

namespace switchboard::server::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

void set_level(std::string_view level);
// "text" (the default) or "json".
void set_format(std::string_view format);
bool enabled(Level level);
// `text` as the text format writes it: control characters and '\\' as \xHH.
std::string escape(std::string_view text);
void write(Level level, std::string_view text);

inline void debug(std::string_view t) { if (enabled(Level::debug)) write(Level::debug, t); }
inline void info(std::string_view t) { if (enabled(Level::info)) write(Level::info, t); }
inline void warn(std::string_view t) { if (enabled(Level::warn)) write(Level::warn, t); }
inline void error(std::string_view t) { if (enabled(Level::error)) write(Level::error, t); }

}  // namespace switchboard::server::log
