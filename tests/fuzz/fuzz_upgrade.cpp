// The bytes of a WebSocket upgrade request (or an SSE stream's), as the node handles them before
// the upgrade: Beast's HTTP parser with the node's limits, the origin check, then the node's own
// admission (server/src/admission/Admission.h: draining, the address's rate, a place among the
// connections, the token lookup — header or query — and its verification, with anonymous
// connections allowed as a fallback), both as a handshake and as the GET /ws probe.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "admission/Admission.h"
#include "switchboard/auth/AnonymousAuthenticator.h"
#include "switchboard/auth/JwtAuthenticator.h"
#include "switchboard/auth/OriginPolicy.h"

namespace http = boost::beast::http;
namespace sa = switchboard::auth;
namespace ss = switchboard::server;

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
ss::Admission& admission() {
  // No rate limit (every input comes from the same address); room for every input's connection,
  // given back when its slot goes at the end of the input.
  static ss::KeyedRateLimiter handshakes(0, 0);
  static ss::Admission admission(handshakes, std::make_shared<ss::ConnectionSlot::Count>(0), 1, authenticator());
  return admission;
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
  if (!origins().allows(req[http::field::origin], req[http::field::host])) return 0;
  bool draining = size > 0 && data[size - 1] == '\0';  // now and then, a node shutting down
  (void)admission().probe(req, "127.0.0.1", draining);
  auto result = admission().admit(req, "127.0.0.1", draining);
  if (!draining && std::holds_alternative<ss::Admission::Admitted>(result)) {
    // One place only: the slot is still held, so a second handshake now finds the node full.
    if (!std::holds_alternative<ss::Admission::Refusal>(admission().admit(req, "127.0.0.1", false))) __builtin_trap();
  }
  return 0;
}
