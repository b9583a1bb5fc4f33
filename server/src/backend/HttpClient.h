#pragma once
// The node's outbound HTTP/1.1 client, for its calls to the application's backends (webhooks,
// the proxy): a pool of keep-alive connections per origin (scheme, host, port), https with the
// server's certificate verified (against the system's CAs or a CA file), a timeout per request
// (from the moment it is sent: waiting for a connection counts) and a cap on the connections
// open to each origin (more requests wait their turn, in order, up to a bound).
//
// Asynchronous on the executor it is given, which must run its handlers one at a time (a strand
// of an I/O thread's io_context): every socket operation, pool change and answer runs there, so
// it needs no lock, and nothing on an I/O thread ever waits for a backend.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace switchboard::server {

class HttpClient : public std::enable_shared_from_this<HttpClient> {
 public:
  struct Options {
    std::chrono::milliseconds timeout{10000};  // one request's whole time: waiting, connect, TLS, write, read
    std::size_t max_connections = 4;           // per origin, in use at once; further requests wait
    std::size_t max_waiting = SIZE_MAX;        // per origin, requests waiting; further ones fail at once ("busy")
    std::string ca_file;                       // PEM CAs trusted for https; empty: the system's
    std::chrono::seconds idle_timeout{30};     // an idle connection older than this is closed, not reused
    std::size_t max_response_bytes = 1024 * 1024;  // a larger answer's body fails the request
  };
  struct Request {
    boost::beast::http::verb method = boost::beast::http::verb::post;
    std::string url;  // http://host[:port][/path][?query] or https://…
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
  };
  struct Response {
    unsigned status = 0;  // 0: no answer, see `error`
    std::string body;
    std::string error;    // why there was no answer: resolve, connect, TLS, write, read, timeout, busy
    bool sent = false;    // it went out to the backend (a connection was attempted or reused): not
                          // refused at once (busy, stopped, a bad URL), failed while waiting, nor in resolving
  };
  using Handler = std::function<void(Response)>;

  // Throws std::runtime_error when the CA file cannot be read.
  static std::shared_ptr<HttpClient> make(boost::asio::any_io_executor executor, Options options);
  ~HttpClient();

  // From any thread. `done` is called once, on the client's executor (with an error, status 0,
  // for a URL this client cannot call, or once the client is stopped).
  void send(Request request, Handler done);
  // Closes the idle connections and fails the waiting requests; requests under way end with
  // their answer or their timeout. From any thread.
  void stop();

  // Empty when `url` is one this client can call (http or https, with a host), else why not.
  static std::string check_url(const std::string& url);

 private:
  struct Link;
  struct Pool;
  class Call;
  using Clock = std::chrono::steady_clock;
  struct Waiting {
    Request request;
    Handler done;
    Clock::time_point deadline;
  };

  HttpClient(boost::asio::any_io_executor executor, Options options);
  // On the executor: a connection of `pool` for the request, now or when one is free (failed
  // at `deadline` if none is by then).
  void start(Pool& pool, Request request, Handler done, Clock::time_point deadline);
  // On the executor: fails the waiting requests whose deadline has passed, and sets the pool's
  // timer for the next one (the oldest waits at the front, with the earliest deadline).
  void expire_waiting(Pool& pool);
  // On the executor: a call ended; its connection goes back to the pool (or is closed), and the
  // next waiting request of the pool starts.
  void release(Pool& pool, std::shared_ptr<Link> link, bool reusable);

  boost::asio::any_io_executor executor_;
  Options options_;
  boost::asio::ssl::context tls_;
  std::map<std::string, std::unique_ptr<Pool>, std::less<>> pools_;  // by origin, "https://host:port"
  bool stopped_ = false;
};

}  // namespace switchboard::server
