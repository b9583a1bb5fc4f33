#pragma once
// Builds the node's authenticator from its configuration.
#include <memory>

#include "switchboard/auth/Authenticator.h"
#include "switchboard/server/Config.h"

namespace switchboard::server {

// What --dev implies: without a configured HMAC secret, a random one for this run, so that
// GET /dev/token can mint tokens the node accepts. Logs a warning that dev mode is on.
void apply_dev_mode(Config& config);

// JWT when keys are configured (with anonymous as the fallback for token-less clients when
// allowed), else anonymous, else (with --proxy-connect alone) one that refuses every token. Reads the key files; reload() reads them again. Throws
// std::exception when a key file is unreadable or malformed.
std::unique_ptr<auth::Authenticator> make_authenticator(const Config& config);

}  // namespace switchboard::server
