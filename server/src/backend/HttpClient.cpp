#include "backend/HttpClient.h"

#include <openssl/ssl.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <optional>

namespace switchboard::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

// Named, not anonymous: HttpClient::Pool holds one (an anonymous type in a member of a class of
// external linkage is refused when this file is part of a unity batch).
namespace http_client_detail {
// A URL split into what a connection and a request need.
struct Target {
  bool tls = false;
  std::string host;    // without brackets
  std::string port;
  std::string host_header;
  std::string path;    // path and query, at least "/"
  std::string origin;  // the pool's key
};

std::optional<Target> parse_target(const std::string& url, std::string* why = nullptr) {
  auto fail = [&](std::string text) -> std::optional<Target> {
    if (why) *why = std::move(text);
    return std::nullopt;
  };
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return fail("is not a URL");
  const auto& u = *parsed;
  Target t;
  std::string scheme(u.scheme());
  if (scheme == "https") t.tls = true;
  else if (scheme != "http") return fail("is not http:// or https://");
  if (!u.has_authority() || u.host_address().empty()) return fail("has no host");
  if (u.has_userinfo()) return fail("has credentials in it (give none)");
  if (u.has_fragment()) return fail("has a fragment (#…)");
  t.host = std::string(u.host_address());
  t.port = u.has_port() ? std::string(u.port()) : (t.tls ? "443" : "80");
  t.host_header = std::string(u.encoded_host_and_port());
  t.path = std::string(u.encoded_target());
  if (t.path.empty() || t.path.front() != '/') t.path = "/" + t.path;
  t.origin = scheme + "://" + t.host_header + (u.has_port() ? "" : ":" + t.port);
  return t;
}
}  // namespace http_client_detail

using http_client_detail::parse_target;
using http_client_detail::Target;

// One connection to an origin: plain or TLS, with its read buffer.
struct HttpClient::Link {
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  Clock::time_point idle_since;

  beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};

// The connections to one origin: the idle ones (most recent last), how many are in use, and the
// requests waiting for one.
struct HttpClient::Pool {
  explicit Pool(const net::any_io_executor& executor) : wait_timer(executor) {}

  Target target;
  std::vector<std::shared_ptr<Link>> idle;
  std::size_t busy = 0;
  std::deque<Waiting> waiting;
  net::steady_timer wait_timer;  // the front waiting request's deadline
  bool timer_set = false;
};

// One request's exchange on a connection of its pool.
class HttpClient::Call : public std::enable_shared_from_this<HttpClient::Call> {
 public:
  Call(std::shared_ptr<HttpClient> client, Pool& pool, std::shared_ptr<Link> link, bool reused, Request request,
       Handler done, Clock::time_point deadline)
      : client_(std::move(client)),
        pool_(pool),
        link_(std::move(link)),
        reused_(reused),
        resolver_(client_->executor_),
        resolve_timer_(client_->executor_),
        done_(std::move(done)),
        deadline_(deadline) {
    req_.method(request.method);
    req_.target(pool.target.path);
    req_.version(11);
    req_.set(http::field::host, pool.target.host_header);
    req_.set(http::field::user_agent, "Switchboard");
    for (auto& [name, value] : request.headers) req_.set(name, value);
    req_.body() = std::move(request.body);
    req_.keep_alive(true);
    req_.prepare_payload();
    parser_.emplace();
    parser_->body_limit(client_->options_.max_response_bytes);
  }

  void run() {
    if (reused_) {
      sent_ = true;
      return write();
    }
    connect();
  }

 private:
  // A new connection: resolve, connect, and for https the TLS handshake with the name checked.
  void connect() {
    link_ = std::make_shared<Link>();
    auto& target = pool_.target;
    if (target.tls) {
      link_->tls.emplace(client_->executor_, client_->tls_);
      if (!SSL_set_tlsext_host_name(link_->tls->native_handle(), target.host.c_str()))
        return fail("TLS: cannot set the server name");
      link_->tls->set_verify_mode(ssl::verify_peer);
      link_->tls->set_verify_callback(ssl::host_name_verification(target.host));
    } else {
      link_->plain.emplace(client_->executor_);
    }
    link_->tcp().expires_at(deadline_);
    resolve_timer_.expires_at(deadline_);
    resolve_timer_.async_wait([weak = weak_from_this()](beast::error_code ec) {
      if (auto self = weak.lock(); self && !ec) self->resolver_.cancel();
    });
    resolver_.async_resolve(target.host, target.port, [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type results) {
      self->resolve_timer_.cancel();
      if (ec == net::error::operation_aborted || Clock::now() >= self->deadline_) return self->fail("resolve: timeout");
      if (ec) return self->fail("resolve: " + ec.message());
      self->sent_ = true;
      self->link_->tcp().async_connect(results, [self](beast::error_code ec, const tcp::endpoint&) {
        if (ec) return self->fail("connect: " + self->describe(ec));
        if (!self->link_->tls) return self->write();
        self->link_->tls->async_handshake(ssl::stream_base::client, [self](beast::error_code ec) {
          if (ec) return self->fail("TLS: " + self->describe(ec));
          self->write();
        });
      });
    });
  }

  void write() {
    link_->tcp().expires_at(deadline_);
    auto on_written = [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->retry_or_fail("write: " + self->describe(ec));
      self->read();
    };
    if (link_->tls) http::async_write(*link_->tls, req_, std::move(on_written));
    else http::async_write(*link_->plain, req_, std::move(on_written));
  }

  void read() {
    auto on_read = [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->retry_or_fail("read: " + self->describe(ec));
      self->succeed();
    };
    if (link_->tls) http::async_read(*link_->tls, link_->buffer, *parser_, std::move(on_read));
    else http::async_read(*link_->plain, link_->buffer, *parser_, std::move(on_read));
  }

  std::string describe(const beast::error_code& ec) const {
    return ec == beast::error::timeout ? std::string("timeout") : ec.message();
  }

  // A kept-alive connection the server had closed meanwhile fails at once: the request goes
  // again, once, on a new connection (nothing of its answer was read).
  void retry_or_fail(std::string why) {
    if (!reused_ || Clock::now() >= deadline_ || parser_->got_some()) return fail(std::move(why));
    reused_ = false;
    parser_.emplace();
    parser_->body_limit(client_->options_.max_response_bytes);
    connect();
  }

  void succeed() {
    auto& res = parser_->get();
    Response response;
    response.status = res.result_int();
    response.body = std::move(res.body());
    // An interim answer (1xx) is not the request's: its final answer would follow on the same
    // connection, so that connection is not used again; the call counts as failed.
    bool reusable = res.keep_alive() && !parser_->need_eof() && response.status >= 200;
    finish(reusable, std::move(response));
  }

  void fail(std::string why) {
    Response response;
    response.error = std::move(why);
    finish(false, std::move(response));
  }

  void finish(bool reusable, Response response) {
    response.sent = sent_;
    auto done = std::move(done_);
    client_->release(pool_, std::move(link_), reusable);
    done(std::move(response));
  }

  std::shared_ptr<HttpClient> client_;
  Pool& pool_;  // pools live as long as the client
  std::shared_ptr<Link> link_;
  bool reused_;
  bool sent_ = false;  // a connection to the backend was attempted (or reused)
  tcp::resolver resolver_;
  net::steady_timer resolve_timer_;  // the request's deadline over the name's resolution too
  Handler done_;
  Clock::time_point deadline_;
  http::request<http::string_body> req_;
  std::optional<http::response_parser<http::string_body>> parser_;
};

std::shared_ptr<HttpClient> HttpClient::make(net::any_io_executor executor, Options options) {
  return std::shared_ptr<HttpClient>(new HttpClient(std::move(executor), std::move(options)));
}

HttpClient::HttpClient(net::any_io_executor executor, Options options)
    : executor_(std::move(executor)), options_(std::move(options)), tls_(ssl::context::tls_client) {
  tls_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  if (options_.ca_file.empty()) {
    tls_.set_default_verify_paths();
  } else {
    beast::error_code ec;
    tls_.load_verify_file(options_.ca_file, ec);
    if (ec) throw std::runtime_error("cannot read the CA file " + options_.ca_file + ": " + ec.message());
  }
  tls_.set_verify_mode(ssl::verify_peer);
  if (options_.max_connections == 0) options_.max_connections = 1;
}

HttpClient::~HttpClient() = default;

std::string HttpClient::check_url(const std::string& url) {
  std::string why;
  if (parse_target(url, &why)) return {};
  return why;
}

void HttpClient::send(Request request, Handler done) {
  auto deadline = Clock::now() + options_.timeout;
  net::post(executor_, [self = shared_from_this(), request = std::move(request), done = std::move(done),
                        deadline]() mutable {
    Response refused;
    if (self->stopped_) {
      refused.error = "the client is stopped";
      return done(std::move(refused));
    }
    std::string why;
    auto target = parse_target(request.url, &why);
    if (!target) {
      refused.error = "the URL " + why;
      return done(std::move(refused));
    }
    auto it = self->pools_.find(target->origin);
    if (it == self->pools_.end()) {
      auto pool = std::make_unique<Pool>(self->executor_);
      pool->target = *target;
      it = self->pools_.emplace(target->origin, std::move(pool)).first;
    }
    self->start(*it->second, std::move(request), std::move(done), deadline);
  });
}

void HttpClient::start(Pool& pool, Request request, Handler done, Clock::time_point deadline) {
  // A request whose time ran out while it waited is not sent at all.
  if (Clock::now() >= deadline) {
    Response late;
    late.error = "timeout (waiting for a connection)";
    return done(std::move(late));
  }
  // The most recently used idle connection first; those idle too long are closed.
  while (!pool.idle.empty()) {
    auto link = std::move(pool.idle.back());
    pool.idle.pop_back();
    if (Clock::now() - link->idle_since > options_.idle_timeout) continue;
    ++pool.busy;
    std::make_shared<Call>(shared_from_this(), pool, std::move(link), true, std::move(request), std::move(done),
                           deadline)
        ->run();
    return;
  }
  if (pool.busy >= options_.max_connections) {
    if (pool.waiting.size() >= options_.max_waiting) {
      Response busy;
      busy.error = "busy: " + std::to_string(pool.busy) + " requests under way and " +
                   std::to_string(pool.waiting.size()) + " waiting";
      return done(std::move(busy));
    }
    pool.waiting.push_back({std::move(request), std::move(done), deadline});
    if (!pool.timer_set) expire_waiting(pool);
    return;
  }
  ++pool.busy;
  std::make_shared<Call>(shared_from_this(), pool, nullptr, false, std::move(request), std::move(done), deadline)
      ->run();
}

void HttpClient::expire_waiting(Pool& pool) {
  pool.timer_set = false;
  while (!pool.waiting.empty() && pool.waiting.front().deadline <= Clock::now()) {
    auto late = std::move(pool.waiting.front());
    pool.waiting.pop_front();
    start(pool, std::move(late.request), std::move(late.done), late.deadline);  // fails it: its time is up
  }
  if (pool.waiting.empty() || stopped_) return;
  pool.timer_set = true;
  pool.wait_timer.expires_at(pool.waiting.front().deadline);
  pool.wait_timer.async_wait([self = shared_from_this(), &pool](beast::error_code ec) {
    if (ec) return;  // cancelled: stop() answered them
    self->expire_waiting(pool);
  });
}

void HttpClient::release(Pool& pool, std::shared_ptr<Link> link, bool reusable) {
  --pool.busy;
  if (link && reusable && !stopped_) {
    link->tcp().expires_never();
    link->idle_since = Clock::now();
    pool.idle.push_back(std::move(link));
    if (pool.idle.size() > options_.max_connections) pool.idle.erase(pool.idle.begin());
  } else if (link) {
    beast::error_code ignored;
    link->tcp().socket().close(ignored);
  }
  if (!pool.waiting.empty()) {
    // After the caller's answer: posted, so that the answer runs first.
    net::post(executor_, [self = shared_from_this(), &pool] {
      if (pool.waiting.empty() || pool.busy >= self->options_.max_connections) return;
      auto next = std::move(pool.waiting.front());
      pool.waiting.pop_front();
      self->start(pool, std::move(next.request), std::move(next.done), next.deadline);
    });
  }
}

void HttpClient::stop() {
  net::post(executor_, [self = shared_from_this()] {
    self->stopped_ = true;
    for (auto& [origin, pool] : self->pools_) {
      pool->idle.clear();
      pool->wait_timer.cancel();
      auto waiting = std::move(pool->waiting);
      pool->waiting.clear();
      for (auto& w : waiting) {
        Response stopped;
        stopped.error = "the client is stopped";
        w.done(std::move(stopped));
      }
    }
  });
}

}  // namespace switchboard::server
