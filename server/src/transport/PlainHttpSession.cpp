#include "transport/HttpSessionImpl.h"

namespace switchboard::server {
template class HttpSession<beast::tcp_stream>;
}
