// JwtVerifier against tokens minted by PyJWT (Debian's python3-jwt), an implementation no one here
// wrote, through tests/unit/jwt_mint.py.
#include "switchboard/auth/JwtVerifier.h"

#include <gtest/gtest.h>
#include <openssl/err.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#ifndef SWITCHBOARD_SOURCE_DIR
#error "SWITCHBOARD_SOURCE_DIR must name the repository root"
#endif

namespace {

using namespace switchboard::auth;
using namespace std::chrono_literals;
using std::chrono::system_clock;

constexpr long long kNow = 1700000000;  // the "now" the tokens are minted around
const char* const kAlgorithms[] = {"HS256", "HS384", "HS512", "RS256", "RS384",
                                   "RS512", "PS256", "ES256", "ES384", "EdDSA"};

struct Minted {
  std::string error;  // empty when the script ran
  nlohmann::json keys;
  nlohmann::json tokens;
};

Minted run_mint_script() {
  Minted minted;
  const std::string command = std::string("'" SWITCHBOARD_PYTHON "' '") + SWITCHBOARD_SOURCE_DIR +
                              "/tests/unit/jwt_mint.py' '{\"now\": " + std::to_string(kNow) + "}'";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    minted.error = "popen failed";
    return minted;
  }
  std::string out;
  char buffer[65536];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  const int status = ::pclose(pipe);
  if (status != 0) {
    minted.error = "jwt_mint.py failed (status " + std::to_string(status) +
                   "); is python3-jwt installed? command: " + command;
    return minted;
  }
  auto json = nlohmann::json::parse(out, nullptr, false);
  if (json.is_discarded() || !json.contains("keys") || !json.contains("tokens")) {
    minted.error = "jwt_mint.py printed no usable JSON";
    return minted;
  }
  minted.keys = json["keys"];
  minted.tokens = json["tokens"];
  return minted;
}

const Minted& minted() {
  static const Minted m = run_mint_script();  // keys are generated once per test run
  return m;
}

std::string describe(const JwtResult& result) {
  if (const auto* error = std::get_if<JwtError>(&result)) return std::string(to_string(*error));
  return "claims for " + std::get<JwtClaims>(result).subject;
}

class JwtVerifierTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(minted().error.empty()) << minted().error; }

  static std::string token(const std::string& name) {
    const auto& tokens = minted().tokens;
    if (!tokens.contains(name)) throw std::runtime_error("no token named " + name);
    return tokens[name].get<std::string>();
  }
  static std::string key(const char* name) { return minted().keys[name].get<std::string>(); }
  static std::string hmac_secret() { return *detail::base64url_decode(key("hmac_secret_b64")); }

  // PEM keys (and the HMAC secret) under the kids the script uses, or without kids.
  static JwtKeySet pem_keys(bool with_kids) {
    auto kid = [&](const char* k) { return with_kids ? std::string(k) : std::string(); };
    JwtKeySet keys;
    keys.add_hmac_secret(kid("hmac-1"), hmac_secret());
    keys.add_public_key_pem(kid("rsa-1"), key("rsa_pem"));
    keys.add_public_key_pem(kid("p256-1"), key("p256_pem"));
    keys.add_public_key_pem(kid("p384-1"), key("p384_pem"));
    keys.add_public_key_pem(kid("ed-1"), key("ed25519_pem"));
    return keys;
  }
  static JwtKeySet jwks_keys() {
    JwtKeySet keys;
    keys.add_jwks(minted().keys["jwks"]);
    return keys;
  }
  static JwtKeySet hmac_keys() {
    JwtKeySet keys;
    keys.add_hmac_secret("", hmac_secret());
    return keys;
  }

  static JwtResult verify(std::string_view token, const JwtKeySet& keys, const JwtOptions& options = {},
                          system_clock::duration offset = {}) {
    return verify_jwt(token, keys, options, system_clock::time_point(std::chrono::seconds(kNow)) + offset);
  }
};

#define EXPECT_JWT_ERROR(result, expected) \
  EXPECT_EQ(describe(result), std::string(to_string(JwtError::expected)))
#define EXPECT_JWT_OK(result) EXPECT_EQ(describe(result), "claims for alice")

TEST(JwtErrorTest, ToStringNamesEveryError) {
  const std::pair<JwtError, std::string_view> names[] = {
      {JwtError::missing_token, "missing_token"}, {JwtError::bad_token, "bad_token"},
      {JwtError::expired, "expired"},             {JwtError::not_yet_valid, "not_yet_valid"},
      {JwtError::bad_signature, "bad_signature"}, {JwtError::bad_audience, "bad_audience"},
      {JwtError::bad_issuer, "bad_issuer"},       {JwtError::unknown_key, "unknown_key"},
      {JwtError::alg_not_allowed, "alg_not_allowed"},
  };
  for (const auto& [error, name] : names) EXPECT_EQ(to_string(error), name);
  static_assert(to_string(JwtError::alg_not_allowed) == "alg_not_allowed");
}

TEST_F(JwtVerifierTest, EveryAlgorithmVerifiesWithPemKeysWithoutKid) {
  const JwtKeySet keys = pem_keys(false);
  for (const char* alg : kAlgorithms) {
    SCOPED_TRACE(alg);
    const JwtResult result = verify(token(alg), keys);
    ASSERT_EQ(describe(result), "claims for alice");
    const auto& claims = std::get<JwtClaims>(result);
    EXPECT_EQ(claims.payload.value("name", ""), "Alice");
    ASSERT_TRUE(claims.expires_at.has_value());
    EXPECT_EQ(*claims.expires_at, system_clock::time_point(std::chrono::seconds(kNow + 3600)));
  }
}

TEST_F(JwtVerifierTest, EveryAlgorithmVerifiesWithPemKeysByKid) {
  const JwtKeySet keys = pem_keys(true);
  for (const char* alg : kAlgorithms) {
    SCOPED_TRACE(alg);
    EXPECT_JWT_OK(verify(token(std::string("kid:") + alg), keys));
    EXPECT_JWT_OK(verify(token(alg), keys));  // no kid: every key of the alg's family is tried
  }
}

TEST_F(JwtVerifierTest, EveryAlgorithmVerifiesWithJwks) {
  const JwtKeySet keys = jwks_keys();
  // rsa-enc ("use":"enc") and the P-521 key are skipped; the other seven are kept.
  EXPECT_EQ(keys.size(), 7u);
  for (const char* alg : kAlgorithms) {
    SCOPED_TRACE(alg);
    EXPECT_JWT_OK(verify(token(std::string("kid:") + alg), keys));
    EXPECT_JWT_OK(verify(token(alg), keys));
  }
}

TEST_F(JwtVerifierTest, EcJwkWithStrippedLeadingZeroIsAccepted) {
  const JwtKeySet keys = jwks_keys();
  const auto& short_x = minted().keys["jwks"]["keys"].back();
  ASSERT_EQ(short_x["kid"], "p256-short-x");
  ASSERT_EQ(detail::base64url_decode(short_x["x"].get<std::string>())->size(), 31u);
  EXPECT_JWT_OK(verify(token("ES256_short_x"), keys));
}

TEST_F(JwtVerifierTest, JwksFileLoads) {
  const auto path = std::filesystem::temp_directory_path() / ("jwt_test_jwks_" + std::to_string(::getpid()) + ".json");
  {
    std::ofstream out(path);
    out << minted().keys["jwks"].dump();
  }
  JwtKeySet keys;
  keys.load_jwks_file(path);
  std::filesystem::remove(path);
  EXPECT_EQ(keys.size(), 7u);
  EXPECT_JWT_OK(verify(token("kid:ES384"), keys));
  EXPECT_JWT_OK(verify(token("kid:EdDSA"), keys));
  EXPECT_THROW(keys.load_jwks_file(path), std::runtime_error);  // gone
}

TEST_F(JwtVerifierTest, KidTokensNeedKeysRegisteredUnderThatKid) {
  const JwtKeySet keys = pem_keys(false);
  EXPECT_JWT_ERROR(verify(token("kid:RS256"), keys), unknown_key);
  EXPECT_JWT_ERROR(verify(token("unknown_kid"), pem_keys(true)), unknown_key);
  EXPECT_JWT_ERROR(verify(token("unknown_kid"), jwks_keys()), unknown_key);
  EXPECT_JWT_ERROR(verify(token("HS256"), JwtKeySet{}), unknown_key);
}

TEST_F(JwtVerifierTest, Pkcs1RsaPemIsAccepted) {
  JwtKeySet keys;
  keys.add_public_key_pem("rsa-1", key("rsa_pkcs1_pem"));
  EXPECT_JWT_OK(verify(token("RS256"), keys));
  EXPECT_JWT_OK(verify(token("kid:PS256"), keys));
}

TEST_F(JwtVerifierTest, AlgNoneAndUnknownAlgorithmsAreRefused) {
  for (const auto& keys : {pem_keys(false), jwks_keys(), hmac_keys()}) {
    EXPECT_JWT_ERROR(verify(token("none"), keys), alg_not_allowed);
    EXPECT_JWT_ERROR(verify(token("alg_NoNe"), keys), alg_not_allowed);
    EXPECT_JWT_ERROR(verify(token("alg_HS1"), keys), alg_not_allowed);
    EXPECT_JWT_ERROR(verify(token("alg_hs256_lowercase"), keys), alg_not_allowed);
  }
}

TEST_F(JwtVerifierTest, HmacKeyedWithTheRsaPublicKeyIsRefused) {
  // The classic algorithm confusion: the attacker signs HS256 with the PEM of our RSA public key.
  JwtKeySet rsa_only;
  rsa_only.add_public_key_pem("", key("rsa_pem"));
  EXPECT_JWT_ERROR(verify(token("confusion"), rsa_only), alg_not_allowed);
  JwtKeySet rsa_with_kid;
  rsa_with_kid.add_public_key_pem("rsa-1", key("rsa_pem"));
  EXPECT_JWT_ERROR(verify(token("confusion_kid"), rsa_with_kid), alg_not_allowed);
  EXPECT_JWT_ERROR(verify(token("confusion"), rsa_with_kid), alg_not_allowed);
  EXPECT_JWT_ERROR(verify(token("confusion_kid"), jwks_keys()), alg_not_allowed);
  // A set that also holds a real HMAC secret tries that secret, which does not match.
  EXPECT_JWT_ERROR(verify(token("confusion"), jwks_keys()), bad_signature);
}

TEST_F(JwtVerifierTest, KeysAreBoundToTheirAlgorithms) {
  const JwtKeySet jwks = jwks_keys();
  EXPECT_JWT_OK(verify(token("RS256_kid_rs256_only"), jwks));
  EXPECT_JWT_ERROR(verify(token("PS256_kid_rs256_only"), jwks), alg_not_allowed);  // JWK "alg": RS256
  EXPECT_JWT_ERROR(verify(token("ES384_kid_p256"), jwks), alg_not_allowed);
  JwtKeySet p384;
  p384.add_public_key_pem("", key("p384_pem"));
  EXPECT_JWT_ERROR(verify(token("ES256"), p384), alg_not_allowed);
  EXPECT_JWT_ERROR(verify(token("EdDSA"), p384), alg_not_allowed);
  EXPECT_JWT_ERROR(verify(token("HS256"), p384), alg_not_allowed);
  EXPECT_JWT_ERROR(verify(token("ES256_by_other_key"), pem_keys(false)), bad_signature);
}

TEST_F(JwtVerifierTest, ExpiryAndNotBeforeHonourTheLeewayBothWays) {
  const JwtKeySet keys = hmac_keys();
  JwtOptions strict;
  strict.leeway = 0s;
  EXPECT_JWT_ERROR(verify(token("expired"), keys), expired);
  EXPECT_JWT_OK(verify(token("exp_10s_ago"), keys));  // leeway 30 s by default
  EXPECT_JWT_ERROR(verify(token("exp_10s_ago"), keys, strict), expired);
  EXPECT_JWT_ERROR(verify(token("nbf_future"), keys), not_yet_valid);
  EXPECT_JWT_OK(verify(token("nbf_in_10s"), keys));
  EXPECT_JWT_ERROR(verify(token("nbf_in_10s"), keys, strict), not_yet_valid);
  // Edges: exp is now + 3600.
  EXPECT_JWT_OK(verify(token("HS256"), keys, {}, 3630s));
  EXPECT_JWT_ERROR(verify(token("HS256"), keys, {}, 3631s), expired);
  EXPECT_JWT_OK(verify(token("HS256"), keys, strict, 3600s));
  EXPECT_JWT_ERROR(verify(token("HS256"), keys, strict, 3600s + 1ms), expired);
}

TEST_F(JwtVerifierTest, AudienceIsChecked) {
  const JwtKeySet keys = hmac_keys();
  JwtOptions ours, theirs, third;
  ours.audience = "switchboard";
  theirs.audience = "other";
  third.audience = "third";
  EXPECT_JWT_OK(verify(token("HS256"), keys, ours));
  EXPECT_JWT_ERROR(verify(token("HS256"), keys, theirs), bad_audience);
  EXPECT_JWT_OK(verify(token("aud_array"), keys, ours));
  EXPECT_JWT_OK(verify(token("aud_array"), keys, theirs));
  EXPECT_JWT_ERROR(verify(token("aud_array"), keys, third), bad_audience);
  EXPECT_JWT_ERROR(verify(token("no_aud"), keys, ours), bad_audience);
  EXPECT_JWT_OK(verify(token("no_aud"), keys));
  EXPECT_JWT_ERROR(verify(token("aud_bad_type"), keys, ours), bad_token);
}

TEST_F(JwtVerifierTest, IssuerIsChecked) {
  const JwtKeySet keys = hmac_keys();
  JwtOptions ours, theirs;
  ours.issuer = "https://issuer.example";
  theirs.issuer = "https://evil.example";
  EXPECT_JWT_OK(verify(token("HS256"), keys, ours));
  EXPECT_JWT_ERROR(verify(token("HS256"), keys, theirs), bad_issuer);
  EXPECT_JWT_ERROR(verify(token("no_iss"), keys, ours), bad_issuer);
  EXPECT_JWT_OK(verify(token("no_iss"), keys));
}

// Drops the first 4 characters (3 bytes) of the signature: still canonical base64url, 3 bytes short.
std::string shorten_signature(std::string text) {
  text.erase(text.rfind('.') + 1, 4);
  return text;
}

// Replaces the character at `pos` by another letter of the base64url alphabet.
std::string flip_char(std::string text, std::size_t pos) {
  text[pos] = text[pos] == 'A' ? 'B' : 'A';
  return text;
}

TEST_F(JwtVerifierTest, FlippedSignatureOrPayloadIsABadSignature) {
  const JwtKeySet keys = pem_keys(false);
  for (const char* alg : kAlgorithms) {
    SCOPED_TRACE(alg);
    const std::string t = token(alg);
    const std::size_t sig = t.rfind('.') + 1;
    EXPECT_JWT_ERROR(verify(flip_char(t, sig), keys), bad_signature);
    EXPECT_JWT_ERROR(verify(flip_char(t, sig + 5), keys), bad_signature);
    EXPECT_JWT_ERROR(verify(flip_char(t, t.find('.') + 3), keys), bad_signature);  // payload
    EXPECT_JWT_ERROR(verify(flip_char(t, 2), keys), bad_token);  // header no longer JSON
  }
}

TEST_F(JwtVerifierTest, TruncatedTokensAreRefused) {
  const JwtKeySet keys = pem_keys(false);
  for (const char* alg : kAlgorithms) {
    SCOPED_TRACE(alg);
    const std::string t = token(alg);
    EXPECT_JWT_ERROR(verify(t.substr(0, t.rfind('.')), keys), bad_token);  // two segments
    EXPECT_JWT_ERROR(verify(t.substr(0, t.find('.')), keys), bad_token);   // one segment
    EXPECT_JWT_ERROR(verify(t.substr(0, t.rfind('.') + 1), keys), bad_signature);  // empty signature
    EXPECT_JWT_ERROR(verify(shorten_signature(t), keys), bad_signature);           // 3 bytes short
  }
  EXPECT_JWT_ERROR(verify(token("HS256") + ".", keys), bad_token);  // four segments
  EXPECT_JWT_ERROR(verify("..", keys), bad_token);
}

TEST_F(JwtVerifierTest, WrongSizeEcdsaSignatureIsABadSignature) {
  const JwtKeySet keys = pem_keys(false);
  for (const char* alg : {"ES256", "ES384"}) {
    const std::string t = token(alg);
    EXPECT_JWT_ERROR(verify(shorten_signature(t), keys), bad_signature);
    EXPECT_JWT_ERROR(verify(t + "AAAA", keys), bad_signature);
    EXPECT_JWT_ERROR(verify(t.substr(0, t.rfind('.') + 1) + std::string(alg == std::string_view("ES256") ? 87 : 130, 'A'), keys),
                     bad_signature);  // 65 or 97 bytes: one byte too many
  }
  // An ES384-sized signature on an ES256 header.
  const std::string es256 = token("ES256"), es384 = token("ES384");
  EXPECT_JWT_ERROR(verify(es256.substr(0, es256.rfind('.')) + es384.substr(es384.rfind('.')), keys), bad_signature);
}

TEST_F(JwtVerifierTest, OnlyStrictBase64urlIsAccepted) {
  const JwtKeySet keys = pem_keys(false);
  const std::string t = token("ES256");  // 64-byte signature: 86 characters, two short of a quantum
  const std::size_t payload = t.find('.') + 1;
  for (char bad : {'+', '/', '=', ' ', '\n', '*', '\0', '.'}) {
    SCOPED_TRACE(static_cast<int>(bad));
    std::string tampered = t;
    tampered[payload + 4] = bad;
    EXPECT_JWT_ERROR(verify(tampered, keys), bad_token);
  }
  EXPECT_JWT_ERROR(verify(t + "==", keys), bad_token);  // padded signature
  EXPECT_JWT_ERROR(verify(t + "=", keys), bad_token);
  EXPECT_JWT_ERROR(verify(" " + t, keys), bad_token);
  EXPECT_JWT_ERROR(verify(t + "\n", keys), bad_token);
  // Non-canonical: the last character carries bits that are not part of the 64 bytes.
  static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string noncanonical = t;
  noncanonical.back() = kAlphabet[kAlphabet.find(t.back()) | 1];
  EXPECT_JWT_ERROR(verify(noncanonical, keys), bad_token);
  // A segment of 4k+1 characters cannot be base64url at all (HS384: 48 bytes, 64 characters).
  const std::string hs384 = token("HS384");
  ASSERT_EQ(hs384.size() - hs384.rfind('.') - 1, 64u);
  EXPECT_JWT_ERROR(verify(hs384 + "A", hmac_keys()), bad_token);
  EXPECT_JWT_ERROR(verify(hs384 + "AAAA", hmac_keys()), bad_signature);
}

TEST_F(JwtVerifierTest, MalformedHeadersAreBadTokens) {
  const JwtKeySet keys = hmac_keys();
  for (const char* name : {"header_not_json", "header_array", "header_no_alg", "header_alg_number", "kid_not_string",
                           "crit"}) {
    SCOPED_TRACE(name);
    EXPECT_JWT_ERROR(verify(token(name), keys), bad_token);
  }
}

TEST_F(JwtVerifierTest, PayloadIsCheckedAfterTheSignature) {
  const JwtKeySet keys = hmac_keys();
  EXPECT_JWT_ERROR(verify(token("payload_not_json"), keys), bad_token);
  EXPECT_JWT_ERROR(verify(token("payload_array"), keys), bad_token);
  JwtKeySet other;
  other.add_hmac_secret("", "a different secret");
  EXPECT_JWT_ERROR(verify(token("payload_not_json"), other), bad_signature);
}

TEST_F(JwtVerifierTest, ClaimsMustBeWellFormed) {
  const JwtKeySet keys = hmac_keys();
  for (const char* name : {"no_sub", "empty_sub", "numeric_sub", "no_exp", "exp_string", "exp_huge", "iat_string"}) {
    SCOPED_TRACE(name);
    EXPECT_JWT_ERROR(verify(token(name), keys), bad_token);
  }
  JwtOptions lenient;
  lenient.require_exp = false;
  const JwtResult no_exp = verify(token("no_exp"), keys, lenient);
  ASSERT_EQ(describe(no_exp), "claims for alice");
  EXPECT_FALSE(std::get<JwtClaims>(no_exp).expires_at.has_value());

  const JwtResult fractional = verify(token("exp_float"), keys);
  ASSERT_EQ(describe(fractional), "claims for alice");
  EXPECT_EQ(*std::get<JwtClaims>(fractional).expires_at,
            system_clock::time_point(std::chrono::seconds(kNow + 3600)) + 500ms);
}

TEST_F(JwtVerifierTest, EmptyAndOversizedTokens) {
  const JwtKeySet keys = pem_keys(false);
  EXPECT_JWT_ERROR(verify("", keys), missing_token);

  std::string huge(3 * 1024 * 1024, 'A');
  huge[1000] = '.';
  huge[2000] = '.';
  const auto start = std::chrono::steady_clock::now();
  EXPECT_JWT_ERROR(verify(huge, keys), bad_token);
  JwtOptions roomy;
  roomy.max_token_bytes = huge.size() + 1;
  EXPECT_JWT_ERROR(verify(huge, keys, roomy), bad_token);  // parsed, refused as not JSON
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);

  const std::string t = token("RS256");
  JwtOptions exact;
  exact.max_token_bytes = t.size();
  EXPECT_JWT_OK(verify(t, keys, exact));
  exact.max_token_bytes = t.size() - 1;
  EXPECT_JWT_ERROR(verify(t, keys, exact), bad_token);
}

TEST_F(JwtVerifierTest, OversizedTokenIsRefusedBeforeAnyWork) {
  const JwtKeySet keys = pem_keys(false);
  const std::string huge(3 * 1024 * 1024, '.');
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) EXPECT_JWT_ERROR(verify(huge, keys), bad_token);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
}

TEST_F(JwtVerifierTest, BadPemKeysThrowWithoutEchoingTheKey) {
  JwtKeySet keys;
  const auto message_of = [&](std::string_view pem) -> std::string {
    try {
      keys.add_public_key_pem("k1", pem);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "(no exception)";
  };
  const std::string garbage = "-----BEGIN PUBLIC KEY-----\nc2VjcmV0LXNob3VsZC1ub3QtbGVhaw==\n-----END PUBLIC KEY-----\n";
  const std::string message = message_of(garbage);
  EXPECT_NE(message, "(no exception)");
  EXPECT_NE(message.find("k1"), std::string::npos) << message;
  EXPECT_EQ(message.find("c2VjcmV0"), std::string::npos) << message;
  EXPECT_NE(message_of(""), "(no exception)");
  EXPECT_NE(message_of("not a pem"), "(no exception)");
  EXPECT_NE(message_of(key("small_rsa_pem")), "(no exception)");  // 1024-bit RSA
  EXPECT_NE(message_of(key("p521_pem")), "(no exception)");       // unsupported curve
  EXPECT_EQ(keys.size(), 0u);
  EXPECT_THROW(keys.add_hmac_secret("h", ""), std::runtime_error);
  EXPECT_EQ(ERR_peek_error(), 0ul);  // OpenSSL's error queue is left as found
}

TEST_F(JwtVerifierTest, BadJwksThrowAndAddNothing) {
  JwtKeySet keys;
  keys.add_hmac_secret("first", "secret");
  const nlohmann::json good = minted().keys["jwks"]["keys"][0];
  auto with = [&](nlohmann::json jwk) { return nlohmann::json{{"keys", {good, std::move(jwk)}}}; };
  nlohmann::json ec = minted().keys["jwks"]["keys"][1];  // P-256
  ASSERT_EQ(ec["crv"], "P-256");
  nlohmann::json off_curve = ec;
  off_curve["y"] = off_curve["x"];
  nlohmann::json wrong_alg = ec;
  wrong_alg["alg"] = "ES384";
  nlohmann::json long_x = ec;
  long_x["x"] = "AAAA" + ec["x"].get<std::string>();
  nlohmann::json rsa_no_n = good;
  rsa_no_n.erase("n");
  nlohmann::json bad_b64 = good;
  bad_b64["e"] = "AQ+B";
  const nlohmann::json bad_sets[] = {
      nlohmann::json::array(),
      nlohmann::json{{"keys", "none"}},
      with(off_curve),
      with(wrong_alg),
      with(long_x),
      with(rsa_no_n),
      with(bad_b64),
      with(nlohmann::json{{"kty", "oct"}, {"k", ""}}),
      with(nlohmann::json{{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "AAAA"}}),
      with(nlohmann::json{{"kid", 3}, {"kty", "oct"}, {"k", "c2VjcmV0"}}),
      with(nlohmann::json{{"crv", "P-256"}}),
  };
  for (const auto& set : bad_sets) {
    SCOPED_TRACE(set.dump());
    EXPECT_THROW(keys.add_jwks(set), std::runtime_error);
    EXPECT_EQ(keys.size(), 1u);
  }
  // Unsupported but well-formed keys are skipped.
  keys.add_jwks(with(nlohmann::json{{"kty", "OKP"}, {"crv", "Ed448"}, {"x", "AAAA"}}));
  keys.add_jwks(with(nlohmann::json{{"kty", "RSA"}, {"alg", "RSA-OAEP"}}));
  EXPECT_EQ(keys.size(), 3u);  // "first" + the good RSA key twice
  EXPECT_EQ(ERR_peek_error(), 0ul);
}

TEST_F(JwtVerifierTest, CopiesShareKeysAndAddingToACopyLeavesTheOriginal) {
  const JwtKeySet original = pem_keys(false);
  JwtKeySet copy = original;
  copy.add_hmac_secret("extra", "another secret");
  EXPECT_EQ(original.size(), 5u);
  EXPECT_EQ(copy.size(), 6u);
  JwtKeySet moved = std::move(copy);
  EXPECT_JWT_OK(verify(token("EdDSA"), moved));
  EXPECT_JWT_OK(verify(token("EdDSA"), original));
}

TEST_F(JwtVerifierTest, ConcurrentVerificationWithOneKeySet) {
  const JwtKeySet keys = jwks_keys();
  std::vector<std::string> tokens;
  for (const char* alg : kAlgorithms) tokens.push_back(token(std::string("kid:") + alg));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        const std::string& tok = tokens[(t + i) % tokens.size()];
        if (!std::holds_alternative<JwtClaims>(verify(tok, keys))) ++failures;
        if (!std::holds_alternative<JwtError>(verify(flip_char(tok, tok.rfind('.') + 1), keys))) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(JwtVerifierTest, FailedVerificationLeavesNoOpenSslErrors) {
  const JwtKeySet keys = pem_keys(false);
  ERR_clear_error();
  for (const char* alg : kAlgorithms) {
    const std::string t = token(alg);
    (void)verify(flip_char(t, t.rfind('.') + 1), keys);
    (void)verify(shorten_signature(t), keys);
  }
  EXPECT_EQ(ERR_peek_error(), 0ul);
}

}  // namespace
