#include "admission/Admission.h"

#include <ctime>

#include "switchboard/auth/JwtAuthenticator.h"

namespace switchboard::server {

namespace http = boost::beast::http;

namespace {

// "2026-12-05T07:00:00Z"
std::string utc_text(DenyList::Clock::time_point at) {
  std::time_t t = DenyList::Clock::to_time_t(at);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

}  // namespace

std::optional<Admission::Refusal> Admission::check(const std::string& address, bool draining,
                                                   std::optional<ConnectionSlot>* slot) {
  if (draining) return Refusal{http::status::service_unavailable, "draining", "the node is shutting down; connect again"};
  if (!handshakes_.allow(address))
    return Refusal{http::status::too_many_requests, "rate_limited", "too many connections from this address; retry later"};
  bool full = false;
  if (slot) {
    *slot = ConnectionSlot::take(connections_, max_connections_);
    full = !*slot;
  } else {
    full = connections_->load() >= max_connections_;
  }
  if (full)
    return Refusal{http::status::service_unavailable, "too_many_connections",
                   "the node is full; connect again, maybe to another node"};
  return std::nullopt;
}

std::variant<auth::Identity, Admission::Refusal> Admission::authenticate(const HttpRequest& req,
                                                                         const std::string& address) {
  auto result = authenticator_.authenticate(
      auth::AuthRequest{req.target(), req[http::field::authorization], req[http::field::origin], address});
  if (auto* rejection = std::get_if<auth::AuthRejection>(&result))
    return Refusal{static_cast<http::status>(rejection->http_status), rejection->code, rejection->message};
  auto& identity = std::get<auth::Identity>(result);
  if (auto refusal = denied(identity)) return std::move(*refusal);
  return std::move(identity);
}

std::optional<Admission::Refusal> Admission::denied(const auth::Identity& identity) const {
  if (!denied_) return std::nullopt;
  auto until = denied_->refused_until(identity.user, identity.token_id);
  if (!until) return std::nullopt;
  return Refusal{http::status::forbidden, "revoked",
                 "a backend revoked this " + std::string(identity.token_id.empty() ? "user" : "user or token") +
                     "'s access until " + utc_text(*until)};
}

std::variant<ConnectionSlot, Admission::Refusal> Admission::reserve(const std::string& address, bool draining) {
  std::optional<ConnectionSlot> slot;
  if (auto refusal = check(address, draining, &slot)) return std::move(*refusal);
  return std::move(*slot);
}

std::variant<Admission::Admitted, Admission::Refusal> Admission::accept(auth::Identity identity,
                                                                        ConnectionSlot slot) const {
  if (auto refusal = denied(identity)) return std::move(*refusal);
  return Admitted{std::move(identity), std::move(slot)};
}

bool Admission::has_token(const HttpRequest& req) {
  return !auth::JwtAuthenticator::find_token(auth::AuthRequest{req.target(), req[http::field::authorization], {}, {}})
              .empty();
}

std::optional<Admission::Refusal> Admission::malformed_upgrade(const HttpRequest& req) {
  if (req.version() != 11)
    return Refusal{http::status::bad_request, "bad_request", "a WebSocket handshake is an HTTP/1.1 request"};
  if (req.find(http::field::host) == req.end())
    return Refusal{http::status::bad_request, "bad_request", "a WebSocket handshake needs a Host header"};
  auto key = req[http::field::sec_websocket_key];
  if (key.empty() || key.size() > 24)
    return Refusal{http::status::bad_request, "bad_request",
                   "a WebSocket handshake needs a Sec-WebSocket-Key of 16 random bytes in base64"};
  auto version = req.find(http::field::sec_websocket_version);
  if (version == req.end())
    return Refusal{http::status::bad_request, "bad_request", "a WebSocket handshake needs Sec-WebSocket-Version: 13"};
  if (version->value() != "13")
    return Refusal{http::status::upgrade_required, "bad_request", "the node speaks WebSocket version 13 (RFC 6455)"};
  return std::nullopt;
}

std::variant<Admission::Admitted, Admission::Refusal> Admission::admit(const HttpRequest& req,
                                                                       const std::string& address, bool draining) {
  std::optional<ConnectionSlot> slot;
  if (auto refusal = check(address, draining, &slot)) return std::move(*refusal);
  auto identity = authenticate(req, address);
  // Refused: the place goes back with `slot`.
  if (auto* refusal = std::get_if<Refusal>(&identity)) return std::move(*refusal);
  return Admitted{std::get<auth::Identity>(std::move(identity)), std::move(*slot)};
}

std::optional<Admission::Refusal> Admission::probe(const HttpRequest& req, const std::string& address, bool draining,
                                                   bool authenticate) {
  if (auto refusal = check(address, draining, nullptr)) return refusal;
  if (!authenticate) return std::nullopt;
  auto identity = this->authenticate(req, address);
  if (auto* refusal = std::get_if<Refusal>(&identity)) return std::move(*refusal);
  return std::nullopt;
}

}  // namespace switchboard::server
