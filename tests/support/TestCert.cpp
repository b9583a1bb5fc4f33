#include "TestCert.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace switchboard::test {

namespace {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
void bio_free(BIO* b) { BIO_free(b); }
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, bio_free>>;

[[noreturn]] void fail(const std::string& what) {
  std::string msg = "make_test_cert: " + what;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    msg += "; ";
    msg += buf;
  }
  throw std::runtime_error(msg);
}

void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

void add_ext(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  check(ext != nullptr, "X509V3_EXT_conf_nid");
  check(X509_add_ext(cert, ext.get(), -1) == 1, "X509_add_ext");
}

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

void write_file(const std::filesystem::path& path, const std::string& content, bool secret) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("make_test_cert: cannot write " + path.string());
  out << content;
  out.close();
  if (!out) throw std::runtime_error("make_test_cert: cannot write " + path.string());
  if (secret)
    std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::replace);
}

}  // namespace

TestCert make_test_cert(const std::string& dir) {
  ERR_clear_error();
  PkeyPtr key(EVP_EC_gen("P-256"));
  check(key != nullptr, "EVP_EC_gen(P-256)");

  X509Ptr cert(X509_new());
  check(cert != nullptr, "X509_new");
  check(X509_set_version(cert.get(), X509_VERSION_3) == 1, "X509_set_version");

  BnPtr serial(BN_new());
  check(serial && BN_rand(serial.get(), 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1, "BN_rand");
  check(BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) != nullptr, "BN_to_ASN1_INTEGER");

  check(X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60L * 60) != nullptr, "notBefore");
  check(X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24L * 60 * 60) != nullptr, "notAfter");

  X509_NAME* name = X509_get_subject_name(cert.get());
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"),
                                   -1, -1, 0) == 1,
        "X509_NAME_add_entry_by_txt");
  check(X509_set_issuer_name(cert.get(), name) == 1, "X509_set_issuer_name");
  check(X509_set_pubkey(cert.get(), key.get()) == 1, "X509_set_pubkey");

  add_ext(cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_ext(cert.get(), NID_key_usage, "critical,digitalSignature,keyAgreement");
  add_ext(cert.get(), NID_ext_key_usage, "serverAuth,clientAuth");
  add_ext(cert.get(), NID_subject_key_identifier, "hash");
  add_ext(cert.get(), NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");

  check(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0, "X509_sign");

  TestCert out;
  {
    BioPtr bio(BIO_new(BIO_s_mem()));
    check(bio && PEM_write_bio_X509(bio.get(), cert.get()) == 1, "PEM_write_bio_X509");
    out.cert_pem = bio_string(bio.get());
  }
  {
    BioPtr bio(BIO_new(BIO_s_mem()));
    check(bio && PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1,
          "PEM_write_bio_PrivateKey");
    out.key_pem = bio_string(bio.get());
  }

  std::filesystem::path d(dir);
  std::filesystem::create_directories(d);
  out.cert_path = (d / "cert.pem").string();
  out.key_path = (d / "key.pem").string();
  write_file(out.cert_path, out.cert_pem, false);
  write_file(out.key_path, out.key_pem, true);
  return out;
}

}  // namespace switchboard::test
