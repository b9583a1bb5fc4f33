#include "switchboard/auth/JwtKeySet.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <climits>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

namespace switchboard::auth {

namespace jwt_internal {

enum class Family { hmac, rsa, ec_p256, ec_p384, ed25519 };
enum class Alg { HS256, HS384, HS512, RS256, RS384, RS512, PS256, ES256, ES384, EdDSA };

struct AlgInfo {
  std::string_view name;
  Alg alg;
  Family family;
  const char* digest;  // nullptr for EdDSA (no pre-hash)
};

constexpr AlgInfo kAlgs[] = {
    {"HS256", Alg::HS256, Family::hmac, "SHA256"},    {"HS384", Alg::HS384, Family::hmac, "SHA384"},
    {"HS512", Alg::HS512, Family::hmac, "SHA512"},    {"RS256", Alg::RS256, Family::rsa, "SHA256"},
    {"RS384", Alg::RS384, Family::rsa, "SHA384"},     {"RS512", Alg::RS512, Family::rsa, "SHA512"},
    {"PS256", Alg::PS256, Family::rsa, "SHA256"},     {"ES256", Alg::ES256, Family::ec_p256, "SHA256"},
    {"ES384", Alg::ES384, Family::ec_p384, "SHA384"}, {"EdDSA", Alg::EdDSA, Family::ed25519, nullptr},
};

const AlgInfo* find_alg(std::string_view name) {
  for (const auto& a : kAlgs)
    if (a.name == name) return &a;
  return nullptr;
}

// unique_ptr deleters for OpenSSL objects.
template <auto F>
struct Free {
  template <typename T>
  void operator()(T* p) const noexcept {
    F(p);
  }
};
template <typename T, auto F>
using Ptr = std::unique_ptr<T, Free<F>>;
using PkeyPtr = Ptr<EVP_PKEY, EVP_PKEY_free>;

struct Key {
  std::string kid;
  Family family{};
  std::optional<Alg> only_alg;
  std::string secret;  // HMAC
  PkeyPtr pkey;        // others

  Key() = default;
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;
  ~Key() {
    if (!secret.empty()) OPENSSL_cleanse(secret.data(), secret.size());
  }
  bool accepts(const AlgInfo& a) const { return a.family == family && (!only_alg || *only_alg == a.alg); }
};

// Leaves the thread's OpenSSL error queue as it found it: failures of ours must not be mistaken
// later for errors of the TLS stream running on the same thread.
struct ErrorQueueMark {
  ErrorQueueMark() { ERR_set_mark(); }
  ~ErrorQueueMark() { ERR_pop_to_mark(); }
  ErrorQueueMark(const ErrorQueueMark&) = delete;
  ErrorQueueMark& operator=(const ErrorQueueMark&) = delete;
};

[[noreturn]] void fail(std::string_view kid, std::string_view what) {
  const std::string key = kid.empty() ? std::string() : " '" + std::string(kid) + "'";
  throw std::runtime_error("JwtKeySet: key" + key + ": " + std::string(what));
}

Family family_of(EVP_PKEY* pkey, std::string_view kid) {
  if (EVP_PKEY_is_a(pkey, "RSA")) {
    if (EVP_PKEY_get_bits(pkey) < 2048) fail(kid, "RSA keys shorter than 2048 bits are refused");
    return Family::rsa;
  }
  if (EVP_PKEY_is_a(pkey, "EC")) {
    char name[80] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len) != 1)
      fail(kid, "EC key without a named curve");
    std::string_view curve(name, len);
    if (curve == "prime256v1" || curve == "P-256") return Family::ec_p256;
    if (curve == "secp384r1" || curve == "P-384") return Family::ec_p384;
    fail(kid, "unsupported EC curve (P-256 and P-384 are supported)");
  }
  if (EVP_PKEY_is_a(pkey, "ED25519")) return Family::ed25519;
  fail(kid, "unsupported key type (RSA, EC P-256/P-384 and Ed25519 are supported)");
}

PkeyPtr pkey_from_pem(std::string_view pem, std::string_view kid) {
  if (pem.empty() || pem.size() > INT_MAX) fail(kid, "empty or oversized PEM");
  {
    Ptr<BIO, BIO_free_all> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    EVP_PKEY* raw = nullptr;
    Ptr<OSSL_DECODER_CTX, OSSL_DECODER_CTX_free> decoder(OSSL_DECODER_CTX_new_for_pkey(
        &raw, "PEM", nullptr, nullptr, EVP_PKEY_PUBLIC_KEY, nullptr, nullptr));
    if (bio && decoder && OSSL_DECODER_from_bio(decoder.get(), bio.get()) == 1 && raw != nullptr)
      return PkeyPtr(raw);
    EVP_PKEY_free(raw);
  }
  {
    Ptr<BIO, BIO_free_all> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    Ptr<X509, X509_free> cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (cert) {
      PkeyPtr pkey(X509_get_pubkey(cert.get()));
      if (pkey) return pkey;
    }
  }
  fail(kid, "not a PEM public key or certificate");
}

PkeyPtr pkey_from_params(const char* type, OSSL_PARAM_BLD* bld) {
  Ptr<OSSL_PARAM, OSSL_PARAM_free> params(OSSL_PARAM_BLD_to_param(bld));
  Ptr<EVP_PKEY_CTX, EVP_PKEY_CTX_free> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) {
    EVP_PKEY_free(raw);
    return nullptr;
  }
  PkeyPtr pkey(raw);
  // Make sure the public key is usable (for EC: the point lies on the curve).
  Ptr<EVP_PKEY_CTX, EVP_PKEY_CTX_free> check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) return nullptr;
  return pkey;
}

std::string jwk_bytes(const nlohmann::json& jwk, const char* member, std::string_view kid) {
  auto it = jwk.find(member);
  if (it == jwk.end() || !it->is_string())
    fail(kid, std::string("JWK member \"") + member + "\" missing or not a string");
  std::string_view text = it->get_ref<const std::string&>();
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);  // tolerate padded JWKs
  auto bytes = detail::base64url_decode(text);
  if (!bytes || bytes->empty()) fail(kid, std::string("JWK member \"") + member + "\" is not base64url");
  return std::move(*bytes);
}

const unsigned char* uc(const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); }

PkeyPtr rsa_from_jwk(const nlohmann::json& jwk, std::string_view kid) {
  const std::string n = jwk_bytes(jwk, "n", kid), e = jwk_bytes(jwk, "e", kid);
  Ptr<BIGNUM, BN_free> bn_n(BN_bin2bn(uc(n), static_cast<int>(n.size()), nullptr));
  Ptr<BIGNUM, BN_free> bn_e(BN_bin2bn(uc(e), static_cast<int>(e.size()), nullptr));
  Ptr<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free> bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()))
    fail(kid, "could not build the RSA key");
  PkeyPtr pkey = pkey_from_params("RSA", bld.get());
  if (!pkey) fail(kid, "invalid RSA JWK");
  return pkey;
}

PkeyPtr ec_from_jwk(const nlohmann::json& jwk, std::string_view kid, Family family) {
  const std::size_t size = family == Family::ec_p256 ? 32 : 48;
  const std::string x = jwk_bytes(jwk, "x", kid), y = jwk_bytes(jwk, "y", kid);
  if (x.size() > size || y.size() > size) fail(kid, "EC JWK coordinate longer than the curve's field");
  std::string point(1 + 2 * size, '\0');
  point[0] = '\x04';  // uncompressed
  point.replace(1 + size - x.size(), x.size(), x);
  point.replace(1 + 2 * size - y.size(), y.size(), y);
  Ptr<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free> bld(OSSL_PARAM_BLD_new());
  const char* group = family == Family::ec_p256 ? "prime256v1" : "secp384r1";
  if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()))
    fail(kid, "could not build the EC key");
  PkeyPtr pkey = pkey_from_params("EC", bld.get());
  if (!pkey) fail(kid, "invalid EC JWK (point not on the curve?)");
  return pkey;
}

PkeyPtr ed25519_from_jwk(const nlohmann::json& jwk, std::string_view kid) {
  const std::string x = jwk_bytes(jwk, "x", kid);
  if (x.size() != 32) fail(kid, "Ed25519 JWK \"x\" must be 32 bytes");
  Ptr<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free> bld(OSSL_PARAM_BLD_new());
  if (!bld || !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, x.data(), x.size()))
    fail(kid, "could not build the Ed25519 key");
  PkeyPtr pkey = pkey_from_params("ED25519", bld.get());
  if (!pkey) fail(kid, "invalid Ed25519 JWK");
  return pkey;
}

// One JWK -> a key, or nullptr when the JWK is to be skipped.
std::shared_ptr<const Key> key_from_jwk(const nlohmann::json& jwk, std::size_t index) {
  std::string label = "#" + std::to_string(index);
  if (!jwk.is_object()) fail(label, "JWK is not an object");
  auto key = std::make_shared<Key>();
  if (auto it = jwk.find("kid"); it != jwk.end()) {
    if (!it->is_string()) fail(label, "JWK \"kid\" is not a string");
    key->kid = it->get<std::string>();
    label = key->kid;
  }
  if (auto it = jwk.find("use"); it != jwk.end() && !(it->is_string() && *it == "sig")) return nullptr;
  if (auto it = jwk.find("key_ops"); it != jwk.end()) {
    if (!it->is_array()) fail(label, "JWK \"key_ops\" is not an array");
    bool verify = false;
    for (const auto& op : *it) verify = verify || (op.is_string() && op == "verify");
    if (!verify) return nullptr;
  }
  const AlgInfo* alg = nullptr;
  if (auto it = jwk.find("alg"); it != jwk.end()) {
    if (!it->is_string()) fail(label, "JWK \"alg\" is not a string");
    alg = find_alg(it->get_ref<const std::string&>());
    if (alg == nullptr) return nullptr;  // an algorithm we do not verify (RSA-OAEP, ES512, ...)
    key->only_alg = alg->alg;
  }
  auto kty_it = jwk.find("kty");
  if (kty_it == jwk.end() || !kty_it->is_string()) fail(label, "JWK \"kty\" missing or not a string");
  const std::string& kty = kty_it->get_ref<const std::string&>();
  std::string crv;
  if (auto it = jwk.find("crv"); it != jwk.end() && it->is_string()) crv = it->get<std::string>();
  if (kty == "RSA") {
    key->family = Family::rsa;
    key->pkey = rsa_from_jwk(jwk, label);
    family_of(key->pkey.get(), label);  // size check
  } else if (kty == "EC") {
    if (crv == "P-256")
      key->family = Family::ec_p256;
    else if (crv == "P-384")
      key->family = Family::ec_p384;
    else
      return nullptr;  // P-521, secp256k1, ...
    key->pkey = ec_from_jwk(jwk, label, key->family);
  } else if (kty == "OKP") {
    if (crv != "Ed25519") return nullptr;  // Ed448, X25519, ...
    key->family = Family::ed25519;
    key->pkey = ed25519_from_jwk(jwk, label);
  } else if (kty == "oct") {
    key->family = Family::hmac;
    key->secret = jwk_bytes(jwk, "k", label);
  } else {
    return nullptr;
  }
  if (alg != nullptr && alg->family != key->family) fail(label, "JWK \"alg\" does not fit its key type");
  return key;
}

bool verify_hmac(const Key& key, const AlgInfo& alg, std::string_view input, std::string_view sig) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  std::size_t mac_len = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, alg.digest, nullptr, key.secret.data(), key.secret.size(),
                reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, sizeof mac,
                &mac_len) == nullptr)
    return false;
  const bool ok = sig.size() == mac_len && CRYPTO_memcmp(mac, sig.data(), mac_len) == 0;
  OPENSSL_cleanse(mac, sizeof mac);
  return ok;
}

// JWS ECDSA signatures are R||S, each of the curve's size; EVP wants a DER ECDSA-Sig-Value.
std::optional<std::vector<unsigned char>> ecdsa_raw_to_der(std::string_view sig, std::size_t half) {
  if (sig.size() != 2 * half) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
  Ptr<BIGNUM, BN_free> r(BN_bin2bn(p, static_cast<int>(half), nullptr));
  Ptr<BIGNUM, BN_free> s(BN_bin2bn(p + half, static_cast<int>(half), nullptr));
  Ptr<ECDSA_SIG, ECDSA_SIG_free> ecdsa(ECDSA_SIG_new());
  if (!r || !s || !ecdsa || ECDSA_SIG_set0(ecdsa.get(), r.get(), s.get()) != 1) return std::nullopt;
  r.release();  // owned by ecdsa now
  s.release();
  const int len = i2d_ECDSA_SIG(ecdsa.get(), nullptr);
  if (len <= 0) return std::nullopt;
  std::vector<unsigned char> der(static_cast<std::size_t>(len));
  unsigned char* out = der.data();
  if (i2d_ECDSA_SIG(ecdsa.get(), &out) != len) return std::nullopt;
  return der;
}

bool verify_pkey(const Key& key, const AlgInfo& alg, std::string_view input, std::string_view sig) {
  std::optional<std::vector<unsigned char>> der;
  const unsigned char* sig_data = reinterpret_cast<const unsigned char*>(sig.data());
  std::size_t sig_len = sig.size();
  if (alg.family == Family::ec_p256 || alg.family == Family::ec_p384) {
    der = ecdsa_raw_to_der(sig, alg.family == Family::ec_p256 ? 32 : 48);
    if (!der) return false;
    sig_data = der->data();
    sig_len = der->size();
  }
  Ptr<EVP_MD_CTX, EVP_MD_CTX_free> md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by md
  if (!md || EVP_DigestVerifyInit_ex(md.get(), &pctx, alg.digest, nullptr, nullptr, key.pkey.get(), nullptr) != 1)
    return false;
  if (alg.family == Family::rsa) {
    if (alg.alg == Alg::PS256) {
      if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
          EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA256", nullptr) <= 0 ||
          EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0)
        return false;
    } else if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0) {
      return false;
    }
  }
  return EVP_DigestVerify(md.get(), sig_data, sig_len, reinterpret_cast<const unsigned char*>(input.data()),
                          input.size()) == 1;
}

}  // namespace jwt_internal

using namespace jwt_internal;

struct JwtKeySet::Storage {
  std::vector<std::shared_ptr<const Key>> keys;
};

namespace {
std::shared_ptr<const JwtKeySet::Storage> with_added(const JwtKeySet::Storage& current,
                                                     std::vector<std::shared_ptr<const Key>> added) {
  auto next = std::make_shared<JwtKeySet::Storage>(current);
  for (auto& key : added) next->keys.push_back(std::move(key));
  return next;
}
}  // namespace

JwtKeySet::JwtKeySet() : storage_(std::make_shared<const Storage>()) {}

std::size_t JwtKeySet::size() const noexcept { return storage_->keys.size(); }

void JwtKeySet::add_hmac_secret(std::string kid, std::string secret) {
  if (secret.empty()) fail(kid, "empty HMAC secret");
  auto key = std::make_shared<Key>();
  key->kid = std::move(kid);
  key->family = Family::hmac;
  key->secret = std::move(secret);
  storage_ = with_added(*storage_, {std::move(key)});
}

void JwtKeySet::add_public_key_pem(std::string kid, std::string_view pem) {
  ErrorQueueMark mark;
  auto key = std::make_shared<Key>();
  key->pkey = pkey_from_pem(pem, kid);
  key->family = family_of(key->pkey.get(), kid);
  key->kid = std::move(kid);
  storage_ = with_added(*storage_, {std::move(key)});
}

void JwtKeySet::add_jwks(const nlohmann::json& jwks) {
  ErrorQueueMark mark;
  if (!jwks.is_object()) throw std::runtime_error("JwtKeySet: a JWK Set must be a JSON object");
  auto keys = jwks.find("keys");
  if (keys == jwks.end() || !keys->is_array())
    throw std::runtime_error("JwtKeySet: a JWK Set needs a \"keys\" array");
  std::vector<std::shared_ptr<const Key>> added;
  std::size_t index = 0;
  for (const auto& jwk : *keys)
    if (auto key = key_from_jwk(jwk, index++)) added.push_back(std::move(key));
  storage_ = with_added(*storage_, std::move(added));
}

void JwtKeySet::load_jwks_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("JwtKeySet: cannot read JWK Set file " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  nlohmann::json jwks = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (jwks.is_discarded()) throw std::runtime_error("JwtKeySet: " + path.string() + " is not valid JSON");
  add_jwks(jwks);
}

std::optional<JwtError> JwtKeySet::check_signature(std::string_view alg, std::optional<std::string_view> kid,
                                                   std::string_view signing_input,
                                                   std::string_view signature) const noexcept {
  try {
    const AlgInfo* info = find_alg(alg);
    if (info == nullptr) return JwtError::alg_not_allowed;
    ErrorQueueMark mark;
    bool kid_found = false, alg_fits = false;
    for (const auto& key : storage_->keys) {
      if (kid && key->kid != *kid) continue;
      kid_found = true;
      if (!key->accepts(*info)) continue;
      alg_fits = true;
      const bool ok = info->family == Family::hmac ? verify_hmac(*key, *info, signing_input, signature)
                                                   : verify_pkey(*key, *info, signing_input, signature);
      if (ok) return std::nullopt;
    }
    if (!kid_found) return JwtError::unknown_key;  // kid not in the set, or an empty set
    if (!alg_fits) return JwtError::alg_not_allowed;
    return JwtError::bad_signature;
  } catch (...) {
    return JwtError::bad_signature;
  }
}

namespace detail {

std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1 || text.size() > static_cast<std::size_t>(INT_MAX / 2)) return std::nullopt;
  std::string b64;
  b64.reserve(text.size() + 3);
  for (char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
      b64 += c;
    else if (c == '-')
      b64 += '+';
    else if (c == '_')
      b64 += '/';
    else
      return std::nullopt;  // '=', '+', '/', whitespace, anything else
  }
  const std::size_t pad = (4 - text.size() % 4) % 4;
  b64.append(pad, '=');
  if (b64.empty()) return std::string();
  std::string out(b64.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
  if (n < 0 || static_cast<std::size_t>(n) != out.size()) return std::nullopt;
  out.resize(out.size() - pad);  // EVP_DecodeBlock counts the padding's zero bytes
  // Canonical form only: the unused low bits of the last character must be zero, which holds
  // exactly when encoding the bytes again gives the same text.
  std::string again(b64.size() + 1, '\0');
  const int m = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(again.data()),
                                reinterpret_cast<const unsigned char*>(out.data()), static_cast<int>(out.size()));
  if (m < 0 || static_cast<std::size_t>(m) != b64.size() || again.compare(0, b64.size(), b64) != 0)
    return std::nullopt;
  return out;
}

}  // namespace detail

}  // namespace switchboard::auth
