#include "transport/WebSocketSessionImpl.h"

namespace switchboard::server {
template class WebSocketSession<net::ip::tcp::socket>;
}
