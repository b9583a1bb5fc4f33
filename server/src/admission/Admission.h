#pragma once
// The checks every WebSocket handshake and SSE stream passes besides the origin's, in order:
// the node is not draining, the client's address is within --handshake-rate-per-ip, the node has
// room for one more connection (--max-connections), and the authenticator accepts the request
// (its token, or an anonymous connection where allowed), and the identity it gives is on no entry
// of the deny-list (403 revoked). HttpSession runs them for /ws upgrades
// and GET /sse (admit) and for GET /ws without an upgrade (probe, which tells what a handshake
// would be told). Thread-safe: its parts are.
#include <boost/beast/http/status.hpp>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "admission/ConnectionSlot.h"
#include "admission/DenyList.h"
#include "admission/KeyedRateLimiter.h"
#include "http/HttpRoutes.h"
#include "switchboard/auth/Authenticator.h"

namespace switchboard::server {

class Admission {
 public:
  // Why a request is refused: the HTTP status and the error code and message of its JSON answer.
  struct Refusal {
    boost::beast::http::status status;
    std::string code;
    std::string message;
  };
  // An admitted connection: who it is, and its place among the node's connections.
  struct Admitted {
    auth::Identity identity;
    ConnectionSlot slot;
  };

  Admission(KeyedRateLimiter& handshakes, std::shared_ptr<ConnectionSlot::Count> connections,
            std::size_t max_connections, auth::Authenticator& authenticator, const DenyList* denied = nullptr)
      : handshakes_(handshakes),
        connections_(std::move(connections)),
        max_connections_(max_connections),
        authenticator_(authenticator),
        denied_(denied) {}

  // A handshake or stream from `address` (counted against its rate), on a node that is
  // `draining` or not: admitted with a place taken, or refused.
  std::variant<Admitted, Refusal> admit(const HttpRequest& req, const std::string& address, bool draining);
  // What admit would answer, without taking a place (it costs a handshake of the address's rate,
  // as it verifies the token as a handshake does): nullopt when it would be admitted. Without
  // `authenticate`, only the node's own checks (the application decides who the client is).
  std::optional<Refusal> probe(const HttpRequest& req, const std::string& address, bool draining,
                               bool authenticate = true);
  // For an identity that comes from elsewhere (the application, through --proxy-connect): the
  // checks before the token's, with a place taken; then, once the identity is known, `accept`.
  std::variant<ConnectionSlot, Refusal> reserve(const std::string& address, bool draining);
  std::variant<Admitted, Refusal> accept(auth::Identity identity, ConnectionSlot slot) const;
  // Whether the request carries a token (a bearer header or ?token=): then the authenticator
  // decides, not the application.
  static bool has_token(const HttpRequest& req);
  // A WebSocket upgrade that cannot be answered with a handshake (RFC 6455 4.2.1): not HTTP/1.1,
  // no Host, no Sec-WebSocket-Key (or one empty or over 24 characters), no Sec-WebSocket-Version,
  // or one other than 13 (426: the answer names the version the node speaks). Refused after the
  // origin's check and before the node's own limits and the token's.
  static std::optional<Refusal> malformed_upgrade(const HttpRequest& req);

 private:
  // The checks before the token's, with a place taken when `slot` is given.
  std::optional<Refusal> check(const std::string& address, bool draining, std::optional<ConnectionSlot>* slot);
  std::variant<auth::Identity, Refusal> authenticate(const HttpRequest& req, const std::string& address);
  // Refused when the deny-list names the identity's user or token.
  std::optional<Refusal> denied(const auth::Identity& identity) const;

  KeyedRateLimiter& handshakes_;
  std::shared_ptr<ConnectionSlot::Count> connections_;
  std::size_t max_connections_;
  auth::Authenticator& authenticator_;
  const DenyList* denied_;
};

}  // namespace switchboard::server
