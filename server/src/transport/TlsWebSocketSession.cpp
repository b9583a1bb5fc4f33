#include "transport/WebSocketSessionImpl.h"

namespace switchboard::server {
template class WebSocketSession<beast::ssl_stream<beast::tcp_stream>>;
}
