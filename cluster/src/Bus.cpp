#include "switchboard/cluster/Bus.h"

namespace switchboard::cluster {
Bus::~Bus() = default;
}
