// The bytes of a WebSocket upgrade request, as the node handles them before the upgrade: Beast's
// HTTP parser with the node's limits, then the origin check, the token lookup (header or query)
// and its verification, with anonymous connections allowed as a fallback.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "switchboard/auth/AnonymousAuthenticator.h"
#include "switchboard/auth/JwtAuthenticator.h"
#include "switchboard/auth/OriginPolicy.h"

namespace http = boost::beast::http;
namespace sa = switchboard::auth;

namespace {
sa::JwtAuthenticator& authenticator() {
  static sa::JwtAuthenticator auth = [] {
    sa::JwtKeySet keys;
    keys.add_hmac_secret("", "fuzz-secret-0123456789abcdef0123");
    return sa::JwtAuthenticator(std::move(keys), sa::JwtOptions{}, std::make_unique<sa::AnonymousAuthenticator>());
  }();
  return auth;
}
const sa::OriginPolicy& origins() {
  static const sa::OriginPolicy policy("https://app.example.com,https://*.example.org");
  return policy;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(8 * 1024 + 8192);
  parser.body_limit(64 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_header_done()) return 0;
  const auto& req = parser.get();
  (void)boost::beast::websocket::is_upgrade(req);
  if (!origins().allows(req[http::field::origin], req[http::field::host])) return 0;
  sa::AuthRequest request{req.target(), req[http::field::authorization], req[http::field::origin], "127.0.0.1"};
  (void)authenticator().authenticate(request);
  return 0;
}
