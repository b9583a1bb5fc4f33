#include "Options.h"

#include <stdexcept>

namespace switchboard::bench {

Options::Options(int argc, char* argv[], int first) {
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 || arg.size() < 3) throw std::invalid_argument("unexpected argument: " + arg);
    arg = arg.substr(2);
    if (auto eq = arg.find('='); eq != std::string::npos) {
      given_.emplace(arg.substr(0, eq), arg.substr(eq + 1));
    } else if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
      given_.emplace(arg, argv[++i]);
    } else {
      given_.emplace(arg, "");
    }
  }
}

const std::string* Options::find(const std::string& name) const {
  auto it = given_.find(name);
  return it == given_.end() ? nullptr : &it->second;
}

std::int64_t Options::integer(const std::string& name, std::int64_t fallback) {
  read_[name] = true;
  std::int64_t value = fallback;
  if (auto v = find(name)) {
    std::size_t end = 0;
    value = std::stoll(*v, &end);
    if (end != v->size()) throw std::invalid_argument("--" + name + " wants an integer, not " + *v);
  }
  used_[name] = value;
  return value;
}

std::size_t Options::size(const std::string& name, std::size_t fallback) {
  return static_cast<std::size_t>(integer(name, static_cast<std::int64_t>(fallback)));
}

std::chrono::milliseconds Options::milliseconds(const std::string& name, std::int64_t fallback) {
  return std::chrono::milliseconds(integer(name, fallback));
}

double Options::number(const std::string& name, double fallback) {
  read_[name] = true;
  double value = fallback;
  if (auto v = find(name)) value = std::stod(*v);
  used_[name] = value;
  return value;
}

std::string Options::text(const std::string& name, const std::string& fallback) {
  read_[name] = true;
  auto v = find(name);
  std::string value = v ? *v : fallback;
  used_[name] = value;
  return value;
}

bool Options::flag(const std::string& name) {
  read_[name] = true;
  auto v = find(name);
  bool value = v && (v->empty() || *v == "true" || *v == "1");
  if (value) used_[name] = true;
  return value;
}

std::vector<std::string> Options::all(const std::string& name) {
  read_[name] = true;
  std::vector<std::string> values;
  for (auto [it, end] = given_.equal_range(name); it != end; ++it) values.push_back(it->second);
  if (!values.empty()) used_[name] = values;
  return values;
}

nlohmann::ordered_json Options::used() const { return used_; }

void Options::reject_unknown() const {
  for (const auto& [name, value] : given_)
    if (!read_.count(name)) throw std::invalid_argument("unknown flag --" + name);
}

}  // namespace switchboard::bench
