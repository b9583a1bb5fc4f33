#include "transport/HttpSessionImpl.h"

namespace switchboard::server {
template class HttpSession<beast::ssl_stream<beast::tcp_stream>>;
}
