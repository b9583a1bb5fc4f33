#pragma once
// The keys a JWT may be verified with, each bound to one family of JWS algorithms.
//
// Families and the algorithms they verify:
//   HMAC secret            HS256, HS384, HS512
//   RSA public key         RS256, RS384, RS512, PS256   (at least 2048 bits)
//   EC P-256 public key    ES256
//   EC P-384 public key    ES384
//   Ed25519 public key     EdDSA
// A JWK carrying "alg" verifies only that algorithm.
//
// Key selection (check_signature):
//   * The token's header has "kid": only the keys added under that kid are candidates.
//     No key has that kid -> unknown_key. None of them is bound to the token's alg ->
//     alg_not_allowed. Otherwise the signature must verify with one of them -> bad_signature.
//   * No "kid": every key of the set bound to the token's alg is a candidate (keys with and
//     without a kid alike). The set is empty -> unknown_key. The set holds keys but none is
//     bound to the alg -> alg_not_allowed (this is what an HS256 token "signed" with an RSA
//     public key gets). Otherwise the signature must verify with one of them -> bad_signature.
//   * An alg outside the list above, or "none", is always alg_not_allowed.
//   Header fields that point at keys elsewhere (jku, jwk, x5u, x5c) are never used.
//
// A key added with an empty kid has no kid: it is selected only by tokens without one. Register
// keys under the kid your issuer puts in its tokens.
//
// Copies are cheap and share the (immutable) keys; adding to a copy does not change the others
// (copy on write). Concurrent const use -- verification from many threads -- is safe; adding keys
// while another thread verifies with the same object is not (build the set, then share it).
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "switchboard/auth/JwtError.h"

namespace switchboard::auth {

class JwtKeySet {
 public:
  JwtKeySet();

  // An HMAC secret (raw bytes) for HS256/384/512. Throws std::runtime_error if it is empty.
  void add_hmac_secret(std::string kid, std::string secret);

  // A PEM public key: "PUBLIC KEY" (SubjectPublicKeyInfo), "RSA PUBLIC KEY" (PKCS#1) or a
  // "CERTIFICATE" whose key is used. RSA (>= 2048 bits), EC P-256/P-384 or Ed25519.
  // Throws std::runtime_error on anything else.
  void add_public_key_pem(std::string kid, std::string_view pem);

  // An RFC 7517 JWK Set {"keys":[...]}: kty RSA (n, e), EC (crv P-256/P-384, x, y),
  // OKP (crv Ed25519, x), oct (k). Keys whose "use" is not "sig", whose kty/crv is not supported,
  // or whose "alg" is not a JWS algorithm listed above are skipped (RFC 7517 section 5). A
  // supported key that is malformed, or whose alg contradicts its type, throws
  // std::runtime_error and nothing of the set is added. EC coordinates shorter than the field
  // size are left-padded with zeros (some encoders strip leading zero bytes).
  void add_jwks(const nlohmann::json& jwks);

  // Reads a JWK Set from a file (see add_jwks). Throws std::runtime_error.
  void load_jwks_file(const std::filesystem::path& path);

  std::size_t size() const noexcept;
  bool empty() const noexcept { return size() == 0; }

  // Low level, used by verify_jwt: checks the JWS signature over `signing_input`
  // ("<header b64>.<payload b64>") with the key(s) selected as described above.
  // Returns std::nullopt when it verifies. Never throws.
  std::optional<JwtError> check_signature(std::string_view alg, std::optional<std::string_view> kid,
                                          std::string_view signing_input,
                                          std::string_view signature) const noexcept;

  struct Storage;  // opaque: the keys

 private:
  std::shared_ptr<const Storage> storage_;
};

namespace detail {
// Strict base64url (RFC 4648 section 5, no padding, canonical): std::nullopt for '=', '+', '/',
// whitespace, other characters, an impossible length, or non-zero trailing bits.
std::optional<std::string> base64url_decode(std::string_view text);
}  // namespace detail

}  // namespace switchboard::auth
