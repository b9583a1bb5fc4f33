#include "admission/Admission.h"

namespace switchboard::server {

namespace http = boost::beast::http;

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
  return std::get<auth::Identity>(std::move(result));
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

std::optional<Admission::Refusal> Admission::probe(const HttpRequest& req, const std::string& address, bool draining) {
  if (auto refusal = check(address, draining, nullptr)) return refusal;
  auto identity = authenticate(req, address);
  if (auto* refusal = std::get_if<Refusal>(&identity)) return std::move(*refusal);
  return std::nullopt;
}

}  // namespace switchboard::server
