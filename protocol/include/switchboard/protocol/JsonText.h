#pragma once
// Strict validation of JSON text (RFC 8259) without building a value, so that a publisher's
// `data` can be checked and then forwarded as the bytes it sent.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::protocol {

class JsonText {
 public:
  enum class Status {
    ok,
    bad_syntax,  // not exactly one JSON value: bad grammar, a bad escape or surrogate, invalid UTF-8
    too_deep,    // valid so far, but arrays and objects nest deeper than the limit
  };

  // A member of the top-level object: its key, decoded, and the text of its value.
  struct Member {
    std::string key;
    std::string_view value;  // a span of the scanned text, without surrounding whitespace
    bool has_whitespace = false;  // the value holds insignificant whitespace (outside strings)
  };

  struct Result {
    Status status = Status::bad_syntax;
    bool object = false;          // the value is an object
    std::vector<Member> members;  // when it is an object: its members in the order written
  };

  // Checks that `text` is exactly one JSON value, optionally surrounded by whitespace:
  // strings with valid escapes, \u surrogates in pairs, no raw control characters and valid
  // UTF-8; numbers by the grammar, of any magnitude; at most `max_depth` levels of arrays and
  // objects. When the value is an object, returns its members (duplicate keys included).
  static Result scan(std::string_view text, int max_depth);

  // `text`, a valid JSON value, without whitespace outside strings.
  static std::string minify(std::string_view text);

  // Follows JSON text character by character, for the scans that look only at what lies
  // outside its strings: inside(c) tells whether `c` belongs to a string, its quotes included.
  class StringTracker {
   public:
    bool inside(char c) {
      if (in_string_) {
        if (escaped_) escaped_ = false;
        else if (c == '\\') escaped_ = true;
        else if (c == '"') in_string_ = false;
        return true;
      }
      in_string_ = c == '"';
      return in_string_;
    }

   private:
    bool in_string_ = false;
    bool escaped_ = false;
  };
};

}  // namespace switchboard::protocol
