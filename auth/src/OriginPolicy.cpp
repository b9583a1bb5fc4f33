#include "switchboard/auth/OriginPolicy.h"

#include <algorithm>
#include <cctype>

namespace switchboard::auth {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// "https://*.example.com" matches "https://a.example.com" and "https://a.b.example.com".
bool matches(const std::string& pattern, const std::string& origin) {
  auto star = pattern.find("://*.");
  if (star == std::string::npos) return pattern == origin;
  std::string scheme = pattern.substr(0, star + 3);       // "https://"
  std::string suffix = pattern.substr(star + 4);          // ".example.com"
  if (origin.size() <= scheme.size() + suffix.size()) return false;
  if (origin.compare(0, scheme.size(), scheme) != 0) return false;
  if (origin.compare(origin.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
  std::string_view label(origin.data() + scheme.size(), origin.size() - scheme.size() - suffix.size());
  return label.find_first_of(":/") == std::string_view::npos;
}

}  // namespace

OriginPolicy::OriginPolicy(std::string_view patterns) {
  while (!patterns.empty()) {
    auto comma = patterns.find(',');
    std::string_view item = trim(patterns.substr(0, comma));
    if (item == "*") any_ = true;
    else if (!item.empty()) patterns_.push_back(lower(item));
    if (comma == std::string_view::npos) break;
    patterns.remove_prefix(comma + 1);
  }
}

bool OriginPolicy::allows(std::string_view origin_header, std::string_view host) const {
  if (origin_header.empty() || any_) return true;
  std::string origin = lower(trim(origin_header));
  auto scheme_end = origin.find("://");
  if (scheme_end != std::string::npos && !host.empty() && origin.substr(scheme_end + 3) == lower(trim(host)))
    return true;  // the node's own pages
  return std::any_of(patterns_.begin(), patterns_.end(), [&](const auto& p) { return matches(p, origin); });
}

}  // namespace switchboard::auth
