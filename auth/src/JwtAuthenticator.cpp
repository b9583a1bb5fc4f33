#include "switchboard/auth/JwtAuthenticator.h"

#include <cctype>

namespace switchboard::auth {

namespace {

bool starts_with_ignoring_case(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

// Value of `name` in the query of `target`, undecoded: a JWT is base64url and dots, which
// need no percent-encoding.
std::string_view query_parameter(std::string_view target, std::string_view name) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (pair.size() > name.size() && pair.substr(0, name.size()) == name && pair[name.size()] == '=')
      return pair.substr(name.size() + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

std::string_view message_for(JwtError error) {
  switch (error) {
    case JwtError::missing_token: return "a token is required: Authorization: Bearer <jwt> or ?token=<jwt>";
    case JwtError::bad_token: return "the token is malformed or lacks a required claim";
    case JwtError::expired: return "the token has expired";
    case JwtError::not_yet_valid: return "the token is not valid yet";
    case JwtError::bad_signature: return "the token's signature does not verify";
    case JwtError::bad_audience: return "the token is not meant for this service (aud)";
    case JwtError::bad_issuer: return "the token comes from an unexpected issuer (iss)";
    case JwtError::unknown_key: return "the token names a key this node does not know (kid)";
    case JwtError::alg_not_allowed: return "the token's algorithm is not allowed for its key";
  }
  return "the token was refused";
}

}  // namespace

JwtAuthenticator::JwtAuthenticator(JwtKeySet keys, JwtOptions options, std::unique_ptr<Authenticator> fallback)
    : keys_(std::move(keys)), options_(std::move(options)), fallback_(std::move(fallback)) {}

void JwtAuthenticator::set_default_rooms(const nlohmann::json& rooms) {
  if (!rooms.is_null()) RoomPermissions::parse(rooms, "");  // throws when malformed
  default_rooms_ = rooms;
}

std::string_view JwtAuthenticator::bearer_token(std::string_view authorization) {
  constexpr std::string_view kBearer = "Bearer ";
  if (!starts_with_ignoring_case(authorization, kBearer)) return {};
  std::string_view token = authorization.substr(kBearer.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

std::string_view JwtAuthenticator::find_token(const AuthRequest& request) {
  if (auto token = bearer_token(request.authorization); !token.empty()) return token;
  return query_parameter(request.target, "token");
}

JwtKeySet JwtAuthenticator::keys() const {
  std::lock_guard lock(keys_mutex_);
  return keys_;
}

void JwtAuthenticator::reload() {
  if (!loader_) return;
  JwtKeySet fresh = loader_();  // throws: the old keys stay
  std::lock_guard lock(keys_mutex_);
  keys_ = std::move(fresh);
}

AuthResult JwtAuthenticator::authenticate(const AuthRequest& request) {
  std::string_view token = find_token(request);
  if (token.empty() && fallback_) return fallback_->authenticate(request);
  return verify_token(token);
}

AuthResult JwtAuthenticator::verify_token(std::string_view token) {
  auto result = verify_jwt(token, keys(), options_);
  if (auto* error = std::get_if<JwtError>(&result))
    return AuthRejection{401, std::string(to_string(*error)), std::string(message_for(*error))};
  auto& claims = std::get<JwtClaims>(result);
  Identity identity;
  identity.user = std::move(claims.subject);
  identity.expires_at = claims.expires_at;
  if (auto it = claims.payload.find("jti"); it != claims.payload.end() && it->is_string())
    identity.token_id = it->get<std::string>();
  if (auto it = claims.payload.find("info"); it != claims.payload.end() && it->is_object())
    identity.info = std::move(*it);
  try {
    if (auto it = claims.payload.find("rooms"); it != claims.payload.end()) {
      identity.permissions = RoomPermissions::parse(*it, identity.user);
      if (!default_rooms_.is_null())
        identity.permissions.merge(RoomPermissions::parse(default_rooms_, identity.user));
    }
    if (auto it = claims.payload.find("limits"); token_limits_ && it != claims.payload.end())
      identity.limits = TokenLimits::parse(*it);
  } catch (const std::invalid_argument& e) {
    return AuthRejection{401, "bad_token", std::string("the token's ") + e.what()};
  }
  return identity;
}

}  // namespace switchboard::auth
