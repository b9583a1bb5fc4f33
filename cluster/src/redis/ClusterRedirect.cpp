#include "redis/ClusterRedirect.h"

#include <charconv>

namespace switchboard::cluster {

namespace {
template <typename Int>
bool number(std::string_view text, Int& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}
}  // namespace

std::optional<ClusterRedirect> ClusterRedirect::parse(std::string_view error, std::string_view asked_host) {
  ClusterRedirect r{};
  if (error.starts_with("MOVED ")) r.kind = Kind::moved;
  else if (error.starts_with("ASK ")) r.kind = Kind::ask;
  else return std::nullopt;
  error.remove_prefix(r.kind == Kind::moved ? 6 : 4);
  auto space = error.find(' ');
  if (space == std::string_view::npos || !number(error.substr(0, space), r.slot) || r.slot >= SlotMap::kSlots)
    return std::nullopt;
  std::string_view endpoint = error.substr(space + 1);
  auto colon = endpoint.rfind(':');  // an IPv6 address has colons of its own
  if (colon == std::string_view::npos || !number(endpoint.substr(colon + 1), r.to.port) || r.to.port == 0)
    return std::nullopt;
  std::string_view host = endpoint.substr(0, colon);
  if (host == "?") return std::nullopt;
  r.to.host = host.empty() ? asked_host : host;
  return r;
}

}  // namespace switchboard::cluster
