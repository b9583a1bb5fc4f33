#include "http/HttpRoutes.h"

#include "http/AdminRoutes.h"

#include <algorithm>
#include <boost/beast/websocket/detail/utf8_checker.hpp>
#include <boost/url/parse.hpp>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "switchboard/auth/JwtSigner.h"
#include "switchboard/protocol/Messages.h"
#include "switchboard/server/Log.h"

namespace switchboard::server {

namespace {

constexpr std::uintmax_t kMaxStaticFileBytes = 8 * 1024 * 1024;

std::string_view mime_type(const std::filesystem::path& path) {
  auto ext = path.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".json" || ext == ".map") return "application/json";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  if (ext == ".txt" || ext == ".md" || ext == ".ts") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

constexpr std::chrono::seconds kDevTokenTtl{15 * 60};
constexpr std::size_t kMaxDevUserBytes = 64;

}  // namespace

HttpResponse HttpRoutes::make_response(const HttpRequest& req, http::status status, std::string_view content_type,
                                   std::string body) {
  HttpResponse res{status, req.version()};
  res.set(http::field::server, "switchboard");
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  if (req.method() == http::verb::head) res.body().clear();  // Content-Length stays that of GET
  return res;
}

HttpRoutes::HttpRoutes(const Config& config, Metrics& metrics, const RoomRegistry& registry,
                       const cluster::Broker& broker)
    : config_(config),
      metrics_(metrics),
      registry_(registry),
      broker_(broker),
      admin_(std::make_unique<AdminRoutes>(config, metrics, registry, broker)) {
  std::error_code ec;
  static_dir_ = std::filesystem::canonical(config.static_dir, ec);
  if (ec) {
    static_dir_.clear();
    log::warn("the web client's files are not at " + config.static_dir + " (" + ec.message() +
              "): GET / and the client's files answer 404; --static-dir names where they are");
  }
}

HttpRoutes::~HttpRoutes() = default;

std::optional<std::string> HttpRoutes::query_parameter(std::string_view target, std::string_view name) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return std::nullopt;
  auto params = url->params();  // percent-decoded, '+' as space
  auto it = params.find(name);
  if (it == params.end()) return std::nullopt;
  return (*it).has_value ? (*it).value : std::string();
}

HttpResponse HttpRoutes::dev_token(const HttpRequest& req) const {
  auto user = query_parameter(req.target(), "user");
  // A name: UTF-8 without control characters — C0 and DEL (one byte each), C1 (U+0080-U+009F,
  // the two bytes C2 80-9F).
  auto is_name = [](const std::string& text) {
    boost::beast::websocket::detail::utf8_checker checker;
    if (!checker.write(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()) || !checker.finish()) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
      const auto c = static_cast<unsigned char>(text[i]);
      const auto next = i + 1 < text.size() ? static_cast<unsigned char>(text[i + 1]) : 0;
      if (c < 0x20 || c == 0x7f || (c == 0xc2 && next >= 0x80 && next <= 0x9f)) return false;
    }
    return true;
  };
  if (!user || user->empty() || user->size() > kMaxDevUserBytes || !is_name(*user))
    return json_error(req, http::status::bad_request, "bad_request",
                      "GET /dev/token?user=NAME, NAME 1-64 bytes of UTF-8 without control characters");
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
  nlohmann::json claims = {{"sub", *user}, {"iat", now.count()}, {"exp", (now + kDevTokenTtl).count()},
                           {"info", {{"name", *user}}}};
  if (!config_.jwt_issuer.empty()) claims["iss"] = config_.jwt_issuer;
  if (!config_.jwt_audience.empty()) claims["aud"] = config_.jwt_audience;
  return make_response(req, http::status::ok, "application/json",
                       protocol::dev_token_answer(auth::sign_hs256(config_.jwt_secret, claims), *user, kDevTokenTtl.count()));
}

HttpResponse HttpRoutes::json_error(const HttpRequest& req, http::status status, std::string_view code,
                                std::string_view message) {
  return make_response(req, status, "application/json", protocol::error_answer(code, message));
}

HttpResponse HttpRoutes::handle(const HttpRequest& req) const {
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  if (AdminRoutes::handles(path))
    return admin_->handle(req, draining_, [&](std::string_view file) { return static_file(req, file); });
  if (path == "/sse") {  // a GET of it is a stream (HttpSession), never answered here
    auto res = json_error(req, http::status::method_not_allowed, "method_not_allowed", "only GET");
    res.set(http::field::allow, "GET");
    return res;
  }
  if (path == "/poll") {  // a GET is a poll, a DELETE ends a session (HttpSession), never answered here
    auto res = json_error(req, http::status::method_not_allowed, "method_not_allowed", "only GET and DELETE");
    res.set(http::field::allow, "GET, DELETE");
    return res;
  }
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    auto res = json_error(req, http::status::method_not_allowed, "method_not_allowed", "only GET and HEAD");
    res.set(http::field::allow, "GET, HEAD");
    return res;
  }
  if (path == "/healthz") return make_response(req, http::status::ok, "application/json", protocol::status_answer("ok"));
  if (path == "/readyz") {
    // Ready when the node can carry messages: always alone, only with Redis in a cluster.
    if (draining_)
      return json_error(req, http::status::service_unavailable, "draining", "the node is shutting down");
    if (broker_.ready()) return make_response(req, http::status::ok, "application/json", protocol::status_answer("ready"));
    return json_error(req, http::status::service_unavailable, "unavailable", "the cluster bus (Redis) is unreachable");
  }
  if (path == "/metrics")
    return make_response(req, http::status::ok, "text/plain; version=0.0.4; charset=utf-8",
                         metrics_.render(registry_.room_count(), registry_.subscription_count(), broker_.stats()));
  if (path == "/dev/token" && config_.dev) return dev_token(req);
  return static_file(req, path == "/" ? "/demo/index.html" : path);
}

HttpResponse HttpRoutes::static_file(const HttpRequest& req, std::string_view path) const {
  auto not_found = [&] { return json_error(req, http::status::not_found, "not_found", "no such path"); };
  if (static_dir_.empty() || path.size() < 2 || path.front() != '/') return not_found();
  // Only plain relative paths: no "..", no hidden files, no backslashes or NULs.
  std::filesystem::path relative(std::string(path.substr(1)));
  // Only what browsers need: the demo and the client module with the modules it imports from
  // src/ (not the tests, packages or node_modules/ that a checkout of web-client/ also holds), and
  // the dashboard's page in admin/ (reached only through AdminRoutes, with --admin).
  auto first = relative.begin()->string();
  if (first == "admin" && !(config_.admin && AdminRoutes::handles(path))) return not_found();
  if (first != "demo" && first != "src" && first != "admin" && relative != "switchboard.js" && relative != "switchboard.d.ts")
    return not_found();
  for (const auto& part : relative) {
    auto s = part.string();
    if (s.empty() || s.front() == '.' || s.find_first_of(std::string_view("\\\0", 2)) != std::string::npos)
      return not_found();
  }
  std::error_code ec;
  auto file = std::filesystem::canonical(static_dir_ / relative, ec);
  if (ec || !std::filesystem::is_regular_file(file, ec)) return not_found();
  auto [root_end, file_it] = std::mismatch(static_dir_.begin(), static_dir_.end(), file.begin(), file.end());
  if (root_end != static_dir_.end()) return not_found();  // a link out of the directory
  auto size = std::filesystem::file_size(file, ec);
  if (ec || size > kMaxStaticFileBytes) return not_found();
  std::ifstream in(file, std::ios::binary);
  std::ostringstream body;
  body << in.rdbuf();
  return make_response(req, http::status::ok, mime_type(file), body.str());
}

}  // namespace switchboard::server
