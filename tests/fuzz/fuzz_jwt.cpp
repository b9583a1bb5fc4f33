// Every token a client presents reaches verify_jwt before anything else looks at it: header and
// payload decoding, claim checks and the signature check must survive any input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "switchboard/auth/JwtVerifier.h"

namespace sa = switchboard::auth;

namespace {
const sa::JwtKeySet& keys() {
  static const sa::JwtKeySet set = [] {
    sa::JwtKeySet k;
    k.add_hmac_secret("", "fuzz-secret-0123456789abcdef0123");
    k.add_hmac_secret("kid-1", "another-secret-0123456789abcdef");
    return k;
  }();
  return set;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view token(reinterpret_cast<const char*>(data), size);
  sa::JwtOptions options;
  options.audience = "switchboard";
  (void)sa::verify_jwt(token, keys(), options);
  return 0;
}
