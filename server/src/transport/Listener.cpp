#include "transport/Listener.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "switchboard/server/Log.h"
#include "transport/HttpSession.h"

namespace switchboard::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;

Listener::Listener(std::vector<net::io_context*> iocs, const tcp::endpoint& endpoint, net::ssl::context* tls,
                   SessionContext& ctx)
    : iocs_(std::move(iocs)), acceptor_(net::make_strand(*iocs_.front())), tls_(tls), ctx_(ctx), retry_timer_(acceptor_.get_executor()) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(net::socket_base::max_listen_connections);
  port_ = acceptor_.local_endpoint().port();
}

void Listener::run() { net::dispatch(acceptor_.get_executor(), [self = shared_from_this()] { self->do_accept(); }); }

void Listener::stop() {
  net::post(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ec;
    self->acceptor_.close(ec);
    self->retry_timer_.cancel();
  });
}

void Listener::do_accept() {
  // Connections go to the I/O threads in turn. Each thread runs its own io_context, so
  // everything a connection does is serialized without a strand or a lock.
  net::io_context& ioc = *iocs_[next_];
  next_ = (next_ + 1) % iocs_.size();
  acceptor_.async_accept(net::any_io_executor(ioc.get_executor()),
                         beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
}

void Listener::on_accept(boost::system::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) {
    // Typically EMFILE: out of file descriptors. Back off briefly instead of spinning.
    log::warn("accept failed: " + ec.message());
    retry_timer_.expires_after(std::chrono::milliseconds(100));
    retry_timer_.async_wait([self = shared_from_this()](boost::system::error_code wait_ec) {
      if (!wait_ec) self->do_accept();
    });
    return;
  }
  socket.set_option(tcp::no_delay(true), ec);
  if (tls_)
    std::make_shared<TlsHttpSession>(beast::ssl_stream<beast::tcp_stream>(std::move(socket), *tls_), ctx_)->run();
  else
    std::make_shared<PlainHttpSession>(beast::tcp_stream(std::move(socket)), ctx_)->run();
  do_accept();
}

}  // namespace switchboard::server
