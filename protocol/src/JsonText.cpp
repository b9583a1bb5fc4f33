#include "switchboard/protocol/JsonText.h"

#include <cstdint>

namespace switchboard::protocol {

namespace {

bool is_whitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// One pass over the text, by recursive descent; the depth limit bounds the recursion.
class Scanner {
 public:
  Scanner(std::string_view text, int max_depth) : text_(text), max_depth_(max_depth) {}

  JsonText::Result run() {
    JsonText::Result result;
    skip_whitespace();
    result.object = pos_ < text_.size() && text_[pos_] == '{';
    members_ = result.object ? &result.members : nullptr;
    bool ok = value(0);
    skip_whitespace();
    if (ok && pos_ != text_.size()) ok = false;
    result.status = too_deep_ ? JsonText::Status::too_deep : ok ? JsonText::Status::ok : JsonText::Status::bad_syntax;
    if (result.status != JsonText::Status::ok) result.members.clear();
    return result;
  }

 private:
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }

  void skip_whitespace() {
    while (!at_end() && is_whitespace(peek())) {
      ++pos_;
      ++whitespace_;
    }
  }

  // One value starting at pos_ (no whitespace before it), inside `depth` arrays and objects.
  bool value(int depth) {
    if (at_end()) return false;
    switch (peek()) {
      case '{': return object(depth + 1);
      case '[': return array(depth + 1);
      case '"': return string(nullptr);
      case 't': return literal("true");
      case 'f': return literal("false");
      case 'n': return literal("null");
      default: return number();
    }
  }

  bool enter(int depth) {
    if (depth > max_depth_) {
      too_deep_ = true;
      return false;
    }
    ++pos_;  // the opening bracket
    skip_whitespace();
    return true;
  }

  bool object(int depth) {
    if (!enter(depth)) return false;
    if (!at_end() && peek() == '}') return ++pos_, true;
    for (;;) {
      if (at_end() || peek() != '"') return false;
      JsonText::Member* member = nullptr;
      if (depth == 1 && members_) member = &members_->emplace_back();
      if (!string(member ? &member->key : nullptr)) return false;
      skip_whitespace();
      if (at_end() || peek() != ':') return false;
      ++pos_;
      skip_whitespace();
      std::size_t start = pos_, whitespace_before = whitespace_;
      if (!value(depth)) return false;
      if (member) {
        member->value = text_.substr(start, pos_ - start);
        member->has_whitespace = whitespace_ != whitespace_before;
      }
      if (auto next = after_item('}'); next != Next::another) return next == Next::end;
    }
  }

  bool array(int depth) {
    if (!enter(depth)) return false;
    if (!at_end() && peek() == ']') return ++pos_, true;
    for (;;) {
      if (!value(depth)) return false;
      if (auto next = after_item(']'); next != Next::another) return next == Next::end;
    }
  }

  // What follows a member of an object or an element of an array: a comma and another one (with
  // the whitespace after the comma skipped), or `close`, the end of the object or array.
  enum class Next { another, end, bad };
  Next after_item(char close) {
    skip_whitespace();
    if (at_end()) return Next::bad;
    if (peek() == close) return ++pos_, Next::end;
    if (peek() != ',') return Next::bad;
    ++pos_;
    skip_whitespace();
    return Next::another;
  }

  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  bool digits() {
    if (at_end() || !is_digit(peek())) return false;
    while (!at_end() && is_digit(peek())) ++pos_;
    return true;
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, of any length.
  bool number() {
    if (!at_end() && peek() == '-') ++pos_;
    if (at_end()) return false;
    if (peek() == '0') ++pos_;
    else if (!digits()) return false;
    if (!at_end() && peek() == '.') {
      ++pos_;
      if (!digits()) return false;
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
      if (!digits()) return false;
    }
    return true;
  }

  // Four hex digits after \u.
  bool hex4(std::uint32_t& out) {
    if (text_.size() - pos_ < 4) return false;
    out = 0;
    for (int i = 0; i < 4; ++i) {
      int v = hex_value(text_[pos_ + i]);
      if (v < 0) return false;
      out = out << 4 | static_cast<std::uint32_t>(v);
    }
    pos_ += 4;
    return true;
  }

  // An escape after the backslash; a high surrogate must be followed by \u and a low one.
  bool escape(std::string* decoded) {
    if (at_end()) return false;
    char c = text_[pos_++];
    char plain = 0;
    switch (c) {
      case '"': plain = '"'; break;
      case '\\': plain = '\\'; break;
      case '/': plain = '/'; break;
      case 'b': plain = '\b'; break;
      case 'f': plain = '\f'; break;
      case 'n': plain = '\n'; break;
      case 'r': plain = '\r'; break;
      case 't': plain = '\t'; break;
      case 'u': {
        std::uint32_t cp;
        if (!hex4(cp)) return false;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a low surrogate alone
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          std::uint32_t low;
          if (text_.substr(pos_, 2) != "\\u") return false;
          pos_ += 2;
          if (!hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        if (decoded) append_utf8(*decoded, cp);
        return true;
      }
      default: return false;
    }
    if (decoded) *decoded += plain;
    return true;
  }

  // One UTF-8 sequence starting with the byte `lead` (>= 0x80), already consumed: well-formed
  // by the Unicode standard (no overlong forms, no surrogates, nothing past U+10FFFF).
  bool utf8(unsigned char lead) {
    auto next = [this](unsigned char lo, unsigned char hi) {
      if (at_end()) return false;
      auto b = static_cast<unsigned char>(peek());
      if (b < lo || b > hi) return false;
      ++pos_;
      return true;
    };
    if (lead >= 0xC2 && lead <= 0xDF) return next(0x80, 0xBF);
    if (lead == 0xE0) return next(0xA0, 0xBF) && next(0x80, 0xBF);
    if ((lead >= 0xE1 && lead <= 0xEC) || lead == 0xEE || lead == 0xEF) return next(0x80, 0xBF) && next(0x80, 0xBF);
    if (lead == 0xED) return next(0x80, 0x9F) && next(0x80, 0xBF);
    if (lead == 0xF0) return next(0x90, 0xBF) && next(0x80, 0xBF) && next(0x80, 0xBF);
    if (lead >= 0xF1 && lead <= 0xF3) return next(0x80, 0xBF) && next(0x80, 0xBF) && next(0x80, 0xBF);
    if (lead == 0xF4) return next(0x80, 0x8F) && next(0x80, 0xBF) && next(0x80, 0xBF);
    return false;
  }

  // A string starting at its opening quote; its decoded text goes to `decoded` when given.
  bool string(std::string* decoded) {
    ++pos_;
    for (;;) {
      if (at_end()) return false;
      auto c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') return ++pos_, true;
      if (c < 0x20) return false;
      if (c == '\\') {
        ++pos_;
        if (!escape(decoded)) return false;
        continue;
      }
      std::size_t start = pos_++;
      if (c >= 0x80 && !utf8(c)) return false;
      if (decoded) decoded->append(text_.substr(start, pos_ - start));
    }
  }

  std::string_view text_;
  int max_depth_;
  std::size_t pos_ = 0;
  std::size_t whitespace_ = 0;  // whitespace bytes skipped so far
  bool too_deep_ = false;
  std::vector<JsonText::Member>* members_ = nullptr;
};

}  // namespace

JsonText::Result JsonText::scan(std::string_view text, int max_depth) { return Scanner(text, max_depth).run(); }

std::string JsonText::minify(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  StringTracker strings;
  for (char c : text)
    if (strings.inside(c) || !is_whitespace(c)) out += c;
  return out;
}

}  // namespace switchboard::protocol
