#pragma once
// `switchboard gentoken`: mints an HS256 token with the configured HMAC secret, for local use
// and for backends' scripts.
#include <iosfwd>
#include <string>
#include <vector>

namespace switchboard::server {

// argv[0] is "gentoken". Options: --user (required), --ttl (90, 90s, 15m, 1h, 7d; default 1h),
// --rooms JSON, --info JSON, and the secret, issuer and audience as the node reads them
// (--jwt-secret / SWITCHBOARD_JWT_SECRET / --config). Prints the token and a newline on `out`;
// returns the exit code (2 on bad usage).
int run_token_command(int argc, const char* const argv[], const std::vector<std::string>& environment,
                      std::ostream& out, std::ostream& err);

}  // namespace switchboard::server
