#include "switchboard/cluster/PresenceStore.h"

namespace switchboard::cluster {
PresenceStore::~PresenceStore() = default;
}
