// Unit tests of JsonText, the strict JSON scanner that checks a publisher's `data` without
// re-serializing it, and of how parse_command and parse_publish_body keep `data` as sent.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <variant>

#include "switchboard/protocol/JsonText.h"
#include "switchboard/protocol/Command.h"

namespace sp = switchboard::protocol;
using nlohmann::json;
using sp::ErrorCode;
using sp::JsonText;

namespace {

std::string nested(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

JsonText::Status status(std::string_view text, int max_depth = 64) { return JsonText::scan(text, max_depth).status; }

// Whether nlohmann accepts `text` (with no limit on depth; the cases here are shallow).
bool nlohmann_accepts(const std::string& text) { return json::accept(text); }

// Values RFC 8259 allows, as a publisher may send them.
const std::vector<std::string>& valid_values() {
  static const std::vector<std::string> values = {
      "0", "-0", "-0.0", "1", "-1", "1.5", "2.50", "1e3", "1E3", "1e+3", "1e-3", "1.0E-10",
      "18446744073709551617", "123456789012345678901234567890", "-123456789012345678901234567890.5",
      "null", "true", "false", R"("")", R"("a")", R"("\"\\\/\b\f\n\r\t")", R"("\u0000")", R"("\u00e9")",
      R"("\uD83D\uDE00")", R"("\ud83d\ude00")", "\"\xc3\xa9\"", "\"\xe2\x82\xac\"", "\"\xf0\x9f\x98\x80\"",
      "\"\xef\xbf\xbf\"", "\"\xf4\x8f\xbf\xbf\"", "[]", "{}", "[1,2,3]", R"({"a":1})", R"({"z":1,"a":2})",
      R"({"a":1,"a":2})", R"([{"a":[{"b":null}]}])", " [ 1 , { \"a\" : 2 } ] ", "\t\r\n1\n", "\"\x7f\"",
      R"({"":0})", R"(["]","}","[","{"])",
  };
  return values;
}

// Texts that are not one JSON value.
const std::vector<std::string>& invalid_texts() {
  static const std::vector<std::string> texts = {
      "", " ", "01", "-01", "1.", ".5", "+1", "1e", "1e+", "-", "--1", "0x10", "NaN", "Infinity", "-Infinity",
      "tru", "truex", "nul", "True", "[", "]", "[1,]", "[,1]", "[1 2]", R"({"a":1,})", R"({"a" 1})", "{a:1}",
      R"({1:1})", "{\"a\":}", "'s'", "\"abc", "\"\x01\"", "\"\x1f\"", "\"a\nb\"", R"("\x41")", R"("\u12")",
      R"("\u12G4")", R"("\uD800")", R"("\uDC00")", R"("\uD800\u0041")", R"("\uD800\uD800")", R"("\uD800x")",
      "\"\xff\"", "\"\x80\"", "\"\xc0\xaf\"", "\"\xc1\xbf\"", "\"\xe0\x80\xaf\"", "\"\xed\xa0\x80\"",
      "\"\xf4\x90\x80\x80\"", "\"\xf5\x80\x80\x80\"", "\"\xe2\x82\"", "\"\xe2\x82", "1 2", "{} {}", "[1]x",
      "\xc2\xa0" "1", "[1]\x0b", "/*c*/1",
  };
  return texts;
}

}  // namespace

TEST(JsonText, AcceptsWhatRfc8259Allows) {
  for (const auto& text : valid_values()) {
    SCOPED_TRACE(text);
    EXPECT_EQ(status(text), JsonText::Status::ok);
  }
}

TEST(JsonText, RefusesWhatIsNotOneJsonValue) {
  for (const auto& text : invalid_texts()) {
    SCOPED_TRACE(text);
    EXPECT_EQ(status(text), JsonText::Status::bad_syntax);
  }
  // A NUL byte ends nothing (nlohmann would stop reading there).
  EXPECT_EQ(status(std::string("1\0", 2)), JsonText::Status::bad_syntax);
  EXPECT_EQ(status(std::string("[1]\0[", 5)), JsonText::Status::bad_syntax);
}

TEST(JsonText, AsStrictAsNlohmannExceptForNumbersOfAnyMagnitude) {
  for (const auto& text : valid_values()) EXPECT_TRUE(nlohmann_accepts(text)) << text;
  for (const auto& text : invalid_texts()) EXPECT_FALSE(nlohmann_accepts(text)) << text;
  // What nlohmann refuses and the scanner takes: numbers beyond a double's range.
  for (const char* text : {"1e400", "-1e400", "[1E999999]", R"({"x":1e400})"}) {
    EXPECT_FALSE(nlohmann_accepts(text)) << text;
    EXPECT_EQ(status(text), JsonText::Status::ok) << text;
  }
}

TEST(JsonText, DepthLimit) {
  EXPECT_EQ(status(nested(64)), JsonText::Status::ok);
  EXPECT_EQ(status(nested(65)), JsonText::Status::too_deep);
  EXPECT_EQ(status(nested(3), 2), JsonText::Status::too_deep);
  EXPECT_EQ(status(R"({"a":{"b":{}}})", 2), JsonText::Status::too_deep);
  EXPECT_EQ(status(R"({"a":{"b":1}})", 2), JsonText::Status::ok);
  EXPECT_EQ(status(std::string(100000, '[')), JsonText::Status::too_deep);  // no recursion past the limit
  EXPECT_EQ(status("[[x" + std::string(100, '[')), JsonText::Status::bad_syntax);
  // Brackets in strings do not nest.
  EXPECT_EQ(status("\"" + std::string(100, '[') + "\""), JsonText::Status::ok);
}

TEST(JsonText, MembersOfTheTopLevelObjectInOrder) {
  auto r = JsonText::scan(R"( { "z" : [1, 2] , "a":{"inner":1},"\u0064ata":"x\"y", "a":-0 } )", 64);
  ASSERT_EQ(r.status, JsonText::Status::ok);
  EXPECT_TRUE(r.object);
  ASSERT_EQ(r.members.size(), 4u);
  EXPECT_EQ(r.members[0].key, "z");
  EXPECT_EQ(r.members[0].value, "[1, 2]");
  EXPECT_TRUE(r.members[0].has_whitespace);
  EXPECT_EQ(r.members[1].key, "a");
  EXPECT_EQ(r.members[1].value, R"({"inner":1})");
  EXPECT_FALSE(r.members[1].has_whitespace);
  EXPECT_EQ(r.members[2].key, "data");  // keys are decoded
  EXPECT_EQ(r.members[2].value, R"("x\"y")");
  EXPECT_EQ(r.members[3].key, "a");  // duplicates are all kept
  EXPECT_EQ(r.members[3].value, "-0");

  auto keys = JsonText::scan(R"({"\uD83D\uDE00\n\u00e9\/":1})", 64);
  ASSERT_EQ(keys.members.size(), 1u);
  EXPECT_EQ(keys.members[0].key, "\xf0\x9f\x98\x80\n\xc3\xa9/");

  auto array = JsonText::scan(R"([{"a":1}])", 64);
  EXPECT_FALSE(array.object);
  EXPECT_TRUE(array.members.empty());
  EXPECT_TRUE(JsonText::scan(R"({"a":1,})", 64).members.empty());  // nothing from invalid text
}

TEST(JsonText, MinifyDropsWhitespaceOutsideStringsOnly) {
  EXPECT_EQ(JsonText::minify(" {\n  \"a b\" : [ 1 ,\t2 ],\r\n \"c\": \" x\\\" \\\\ \" }\n"),
            R"({"a b":[1,2],"c":" x\" \\ "})");
  EXPECT_EQ(JsonText::minify(R"({"z":1,"a":2})"), R"({"z":1,"a":2})");
}

// ---------------------------------------------------------------------------------------------
// parse_command and parse_publish_body keep the publisher's text
// ---------------------------------------------------------------------------------------------

namespace {

std::string published_data(const std::string& data) {
  auto r = sp::parse_command(R"({"op":"publish","id":1,"room":"r","data":)" + data + "}");
  if (auto* err = std::get_if<sp::CommandError>(&r)) {
    ADD_FAILURE() << data << ": " << sp::to_string(err->code) << " " << err->message;
    return {};
  }
  return std::get<sp::Command>(r).data;
}

std::string posted_data(const std::string& data) {
  auto r = sp::parse_publish_body(R"({"room":"r","data":)" + data + "}");
  if (auto* err = std::get_if<sp::CommandError>(&r)) {
    ADD_FAILURE() << data << ": " << sp::to_string(err->code) << " " << err->message;
    return {};
  }
  return std::get<sp::PublishBody>(r).data;
}

ErrorCode request_error(const std::string& text) {
  auto r = sp::parse_command(text);
  return std::holds_alternative<sp::CommandError>(r) ? std::get<sp::CommandError>(r).code : ErrorCode::internal;
}

}  // namespace

TEST(PublishedData, KeptByteForByte) {
  for (const char* data : {R"({"id":18446744073709551617})", "123456789012345678901234567890", R"({"x":1e400})",
                           "-0", "1E+2", "2.50", R"({"z":1,"a":2})", R"({"a":1,"a":2})", R"("\u00e9\ud83d\ude00\/")",
                           "\"\xf0\x9f\x98\x80\"", R"("\u0000\"\\")", "null"}) {
    SCOPED_TRACE(data);
    EXPECT_EQ(published_data(data), data);
    EXPECT_EQ(posted_data(data), data);
  }
  std::string deep = nested(63);  // the request object is level 1
  EXPECT_EQ(published_data(deep), deep);
  EXPECT_EQ(posted_data(deep), deep);
}

TEST(PublishedData, WhitespaceOutsideStringsDropped) {
  // A pretty-printed body puts no raw newline into a push (a Server-Sent Events data: line).
  EXPECT_EQ(posted_data("{\n  \"a\" : [ 1, 2 ],\n  \"b\": \"x  y\\n\"\n}"), R"({"a":[1,2],"b":"x  y\n"})");
  EXPECT_EQ(published_data(" [ 1 ,\t{ } ] "), "[1,{}]");
}

TEST(PublishedData, TheLastOfDuplicateMembersCounts) {
  auto r = sp::parse_command(R"({"op":"ping","op":"publish","room":"x","room":"r","data":1,"data":{"b":2}})");
  ASSERT_TRUE(std::holds_alternative<sp::Command>(r));
  auto& req = std::get<sp::Command>(r);
  EXPECT_EQ(req.op, sp::Op::publish);
  EXPECT_EQ(req.room, "r");
  EXPECT_EQ(req.data, R"({"b":2})");
  // Escaped member names are the same names.
  auto escaped = sp::parse_command(R"({"\u006fp":"publish","ro\u006Fm":"r","d\u0061ta":[1]})");
  ASSERT_TRUE(std::holds_alternative<sp::Command>(escaped));
  EXPECT_EQ(std::get<sp::Command>(escaped).data, "[1]");
}

TEST(PublishedData, InvalidDataIsBadJson) {
  // A WebSocket text frame is UTF-8 checked by the WebSocket layer; an HTTP body only here.
  for (const std::string data : {"\"\xff\"", "\"\xed\xa0\x80\"", R"("\uD800")", "01", "[1,]", "NaN", "\"a\tb\""}) {
    SCOPED_TRACE(data);
    EXPECT_EQ(request_error(R"({"op":"publish","room":"r","data":)" + data + "}"), ErrorCode::bad_json);
    auto r = sp::parse_publish_body(R"({"room":"r","data":)" + data + "}");
    ASSERT_TRUE(std::holds_alternative<sp::CommandError>(r));
    EXPECT_EQ(std::get<sp::CommandError>(r).code, ErrorCode::bad_json);
  }
  // Anywhere else in the frame too.
  EXPECT_EQ(request_error("{\"op\":\"ping\",\"x\":\"\xc0\xaf\"}"), ErrorCode::bad_json);
}

TEST(PublishedData, HugeNumbersElsewhereAreOfTheWrongType) {
  // Valid JSON, so not bad_json: an id, a limit or a since that no integer can hold is a bad_request.
  auto id = std::get<sp::CommandError>(sp::parse_command(R"({"op":"ping","id":1e400})"));
  EXPECT_EQ(id.code, ErrorCode::bad_request);
  EXPECT_TRUE(id.id.is_null());
  EXPECT_EQ(request_error(R"({"op":"ping","id":18446744073709551617})"), ErrorCode::bad_request);
  EXPECT_EQ(request_error(R"({"op":"history","room":"r","limit":1e400})"), ErrorCode::bad_request);
  EXPECT_EQ(request_error(R"({"op":"subscribe","room":"r","since":{"offset":1e400,"epoch":"e"}})"),
            ErrorCode::bad_request);
  // Members the request does not use may hold anything valid.
  auto r = sp::parse_command(R"({"op":"ping","id":7,"extra":1e400})");
  ASSERT_TRUE(std::holds_alternative<sp::Command>(r));
  EXPECT_EQ(std::get<sp::Command>(r).id, json(7));
}

TEST(PublishedData, ByteOrderMarkSkipped) {
  auto r = sp::parse_command("\xef\xbb\xbf{\"op\":\"ping\",\"id\":1}");
  ASSERT_TRUE(std::holds_alternative<sp::Command>(r));
  EXPECT_EQ(std::get<sp::Command>(r).id, json(1));
}
