#include "transport/SseSessionImpl.h"

namespace switchboard::server {
template class SseSession<beast::ssl_stream<beast::tcp_stream>>;
}
