#include "switchboard/auth/JwtVerifier.h"

#include <algorithm>
#include <cctype>

namespace switchboard::auth {

namespace {

// 9999-12-31T23:59:59Z: "exp"/"nbf" beyond it (or before its negative) are refused as malformed,
// which also keeps the time_point arithmetic far from overflow.
constexpr double kMaxEpochSeconds = 253402300799.0;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::optional<nlohmann::json> parse_object(const std::string& text) {
  nlohmann::json value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded() || !value.is_object()) return std::nullopt;
  return value;
}

// A NumericDate claim: std::nullopt when absent; false in `ok` when malformed.
std::optional<double> numeric_date(const nlohmann::json& payload, const char* name, bool& ok) {
  auto it = payload.find(name);
  if (it == payload.end()) return std::nullopt;
  if (!it->is_number()) {
    ok = false;
    return std::nullopt;
  }
  const double value = it->get<double>();
  if (!(value >= -kMaxEpochSeconds && value <= kMaxEpochSeconds)) {
    ok = false;
    return std::nullopt;
  }
  return value;
}

// A compact JWS's three parts, decoded, and the text its signature covers.
struct DecodedToken {
  std::string header;
  std::string payload;
  std::string signature;
  std::string_view signing_input;
};

// std::nullopt unless `token` is three base64url parts, the first two non-empty.
std::optional<DecodedToken> decode(std::string_view token) {
  const std::size_t dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return std::nullopt;
  const std::size_t dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) return std::nullopt;
  const std::string_view header_b64 = token.substr(0, dot1);
  const std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  if (header_b64.empty() || payload_b64.empty()) return std::nullopt;
  auto header = detail::base64url_decode(header_b64);
  auto payload = detail::base64url_decode(payload_b64);
  auto signature = detail::base64url_decode(token.substr(dot2 + 1));
  if (!header || !payload || !signature) return std::nullopt;
  return DecodedToken{std::move(*header), std::move(*payload), std::move(*signature), token.substr(0, dot2)};
}

// The header (its alg and kid, no crit) and the signature it names, checked with `keys`.
std::optional<JwtError> check_signature(const DecodedToken& token, const JwtKeySet& keys) {
  const auto header = parse_object(token.header);
  if (!header) return JwtError::bad_token;
  const auto alg_it = header->find("alg");
  if (alg_it == header->end() || !alg_it->is_string()) return JwtError::bad_token;
  const std::string& alg = alg_it->get_ref<const std::string&>();
  std::optional<std::string_view> kid;
  if (auto it = header->find("kid"); it != header->end()) {
    if (!it->is_string()) return JwtError::bad_token;
    kid = it->get_ref<const std::string&>();
  }
  if (header->contains("crit")) return JwtError::bad_token;  // RFC 7515 4.1.11: no extension understood
  if (iequals(alg, "none")) return JwtError::alg_not_allowed;
  return keys.check_signature(alg, kid, token.signing_input, token.signature);
}

// The time claims a token was checked to hold (absent: std::nullopt).
struct TokenDates {
  std::optional<double> exp;
  std::optional<double> nbf;
};

// The registered claims' types: sub a non-empty string, exp, nbf and iat numbers in range (exp
// present if required), aud a string or an array of strings.
std::optional<JwtError> check_claim_types(const nlohmann::json& payload, const JwtOptions& options, TokenDates& dates) {
  const auto sub = payload.find("sub");
  if (sub == payload.end() || !sub->is_string() || sub->get_ref<const std::string&>().empty())
    return JwtError::bad_token;
  bool well_formed = true;
  dates.exp = numeric_date(payload, "exp", well_formed);
  dates.nbf = numeric_date(payload, "nbf", well_formed);
  if (auto iat = payload.find("iat"); iat != payload.end() && !iat->is_number()) well_formed = false;
  if (!well_formed || (options.require_exp && !dates.exp)) return JwtError::bad_token;
  const auto aud = payload.find("aud");
  if (aud != payload.end() && !aud->is_string()) {
    if (!aud->is_array()) return JwtError::bad_token;
    for (const auto& item : *aud)
      if (!item.is_string()) return JwtError::bad_token;
  }
  return std::nullopt;
}

// The claims against the time (with the leeway) and the required issuer and audience.
std::optional<JwtError> check_claims(const nlohmann::json& payload, const JwtOptions& options, const TokenDates& dates,
                                     std::chrono::system_clock::time_point now) {
  const double now_s = std::chrono::duration<double>(now.time_since_epoch()).count();
  const double leeway_s = static_cast<double>(options.leeway.count());
  if (dates.exp && now_s > *dates.exp + leeway_s) return JwtError::expired;
  if (dates.nbf && now_s + leeway_s < *dates.nbf) return JwtError::not_yet_valid;
  if (options.issuer) {
    const auto iss = payload.find("iss");
    if (iss == payload.end() || !iss->is_string() || iss->get_ref<const std::string&>() != *options.issuer)
      return JwtError::bad_issuer;
  }
  if (options.audience) {
    bool found = false;
    if (const auto aud = payload.find("aud"); aud != payload.end()) {
      if (aud->is_string())
        found = aud->get_ref<const std::string&>() == *options.audience;
      else
        for (const auto& item : *aud) found = found || item.get_ref<const std::string&>() == *options.audience;
    }
    if (!found) return JwtError::bad_audience;
  }
  return std::nullopt;
}

JwtResult verify(std::string_view token, const JwtKeySet& keys, const JwtOptions& options,
                 std::chrono::system_clock::time_point now) {
  if (token.empty()) return JwtError::missing_token;
  if (token.size() > options.max_token_bytes) return JwtError::bad_token;
  const auto decoded = decode(token);
  if (!decoded) return JwtError::bad_token;
  if (auto error = check_signature(*decoded, keys)) return *error;

  // The signature holds: now the claims.
  auto payload = parse_object(decoded->payload);
  if (!payload) return JwtError::bad_token;
  TokenDates dates;
  if (auto error = check_claim_types(*payload, options, dates)) return *error;
  if (auto error = check_claims(*payload, options, dates, now)) return *error;

  JwtClaims claims;
  claims.subject = payload->at("sub").get<std::string>();
  if (dates.exp) {
    claims.expires_at = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(*dates.exp)));
  }
  claims.payload = std::move(*payload);
  return claims;
}

}  // namespace

JwtResult verify_jwt(std::string_view token, const JwtKeySet& keys, const JwtOptions& options,
                     std::chrono::system_clock::time_point now) {
  try {
    return verify(token, keys, options, now);
  } catch (...) {
    return JwtError::bad_token;
  }
}

}  // namespace switchboard::auth
