#include "transport/SseSessionImpl.h"

namespace switchboard::server {
template class SseSession<beast::tcp_stream>;
}
