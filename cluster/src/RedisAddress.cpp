#include "switchboard/cluster/RedisAddress.h"

#include <boost/url/parse.hpp>
#include <charconv>
#include <stdexcept>

namespace switchboard::cluster {

RedisAddress RedisAddress::parse(std::string_view text) {
  auto fail = [&](const std::string& why) {
    return std::invalid_argument("--redis " + why + "; expected redis://[:password@]host[:port][/db]");
  };
  auto url = boost::urls::parse_absolute_uri(text);
  if (!url) throw fail("is not a URL");
  if (url->scheme() != "redis") throw fail("must use the redis:// scheme");
  RedisAddress a;
  if (url->host().empty()) throw fail("has no host");
  a.host = url->host_address();
  if (url->has_port()) {
    if (url->port_number() == 0) throw fail("has a bad port");
    a.port = url->port_number();
  }
  if (url->has_password()) a.password = url->password();
  else if (url->has_userinfo() && !url->user().empty()) a.password = url->user();  // redis://secret@host
  std::string_view path = url->encoded_path();
  if (!path.empty() && path != "/") {
    path.remove_prefix(1);
    auto [end, ec] = std::from_chars(path.data(), path.data() + path.size(), a.db);
    if (ec != std::errc() || end != path.data() + path.size() || a.db < 0) throw fail("has a bad database number");
  }
  // An IPv6 literal comes back bracketed; hiredis wants it bare.
  if (a.host.size() > 2 && a.host.front() == '[') a.host = a.host.substr(1, a.host.size() - 2);
  return a;
}

std::string RedisAddress::describe() const {
  std::string host_part = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return "redis://" + std::string(password.empty() ? "" : ":***@") + host_part + ":" + std::to_string(port) +
         (db ? "/" + std::to_string(db) : std::string());
}

}  // namespace switchboard::cluster
