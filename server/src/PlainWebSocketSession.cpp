#include "WebSocketSessionImpl.h"

namespace switchboard::server {
template class WebSocketSession<beast::tcp_stream>;
}
