#include "switchboard/auth/Authenticator.h"

namespace switchboard::auth {
Authenticator::~Authenticator() = default;
}
