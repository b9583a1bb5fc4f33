#pragma once
// Which browser origins may use the node. Browsers send Origin on every WebSocket handshake and
// cross-origin request, and let any page open a WebSocket or send a form or text/plain POST to any
// host; checking it on every route stops a page on another site from using a visitor's browser
// against the node (cross-site WebSocket hijacking, request forgery). Clients that send no Origin
// (servers, command-line tools) are not browsers and pass.
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::auth {

class OriginPolicy {
 public:
  // Patterns, comma-separated: "https://app.example.com" (exact), "https://*.example.com" (any
  // subdomain, not the bare domain), "*" (any origin). Whatever the list, a page served by the
  // node itself (Origin's host equal to the Host header) is allowed.
  explicit OriginPolicy(std::string_view patterns = {});

  bool allows(std::string_view origin, std::string_view host) const;

 private:
  std::vector<std::string> patterns_;  // lower-cased
  bool any_ = false;
};

}  // namespace switchboard::auth
