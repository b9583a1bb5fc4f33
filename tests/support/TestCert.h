#pragma once
// Self-signed certificates made in-process for TLS tests (no `openssl` command needed).
#include <string>

namespace switchboard::test {

struct TestCert {
  std::string cert_pem;   // X.509 certificate, PEM
  std::string key_pem;    // private key, PKCS#8 PEM (unencrypted)
  std::string cert_path;  // <dir>/cert.pem
  std::string key_path;   // <dir>/key.pem (mode 0600)
};

// Generates a fresh self-signed certificate: EC P-256 key, SHA-256 signature, subject and issuer
// CN=localhost, subjectAltName DNS:localhost, IP:127.0.0.1, IP:::1, serverAuth+clientAuth,
// valid from now-1h to now+24h, random serial. Writes cert.pem and key.pem into `dir` (created if
// missing; existing files are replaced). Throws std::runtime_error with the OpenSSL error on failure.
// Each call makes a new key; use a separate dir per certificate.
TestCert make_test_cert(const std::string& dir);

}  // namespace switchboard::test
