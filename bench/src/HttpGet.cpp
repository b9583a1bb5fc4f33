#include "HttpGet.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace switchboard::bench {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

HttpResponse http_get(std::uint16_t port, const std::string& target, std::chrono::milliseconds timeout) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  HttpResponse result;
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, "127.0.0.1");
  request.set(http::field::connection, "close");
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  stream.expires_after(timeout);
  stream.async_connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                       [&](beast::error_code ec) {
                         if (ec) return;
                         http::async_write(stream, request, [&](beast::error_code ec, std::size_t) {
                           if (ec) return;
                           http::async_read(stream, buffer, response, [&](beast::error_code ec, std::size_t) {
                             if (ec) return;
                             result.status = static_cast<int>(response.result_int());
                             result.body = std::move(response.body());
                           });
                         });
                       });
  ioc.run();
  return result;
}

}  // namespace switchboard::bench
