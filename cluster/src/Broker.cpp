#include "switchboard/cluster/Broker.h"

namespace switchboard::cluster {
Broker::~Broker() = default;
}
