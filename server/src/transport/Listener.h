#pragma once
// Accepts TCP connections on one endpoint and starts an HTTP session, plain or TLS, for each,
// on the node's io_contexts in turn (one per I/O thread).
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <vector>

#include "transport/SessionContext.h"

namespace switchboard::server {

class Listener final : public std::enable_shared_from_this<Listener> {
 public:
  // Binds and listens; throws std::system_error when it cannot. `tls` null means plain.
  // Accepts on the first of `iocs`.
  Listener(std::vector<boost::asio::io_context*> iocs, const boost::asio::ip::tcp::endpoint& endpoint,
           boost::asio::ssl::context* tls, SessionContext& ctx);
  void run();
  // Stops accepting; connections already open are not touched.
  void stop();
  std::uint16_t port() const { return port_; }

 private:
  void do_accept();
  void on_accept(boost::system::error_code ec, boost::asio::ip::tcp::socket socket);

  std::vector<boost::asio::io_context*> iocs_;
  std::size_t next_ = 0;  // the io_context of the next connection
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::ssl::context* tls_;
  SessionContext& ctx_;
  boost::asio::steady_timer retry_timer_;
  std::uint16_t port_ = 0;
};

}  // namespace switchboard::server
