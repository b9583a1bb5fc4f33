// Unit tests of the wire protocol: request parsing and validation, the frame serializers,
// error code names and room names.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <variant>

#include "switchboard/protocol/ErrorCode.h"
#include "switchboard/protocol/EventId.h"
#include "switchboard/protocol/Messages.h"
#include "switchboard/protocol/OffsetSlot.h"
#include "switchboard/protocol/Command.h"
#include "switchboard/protocol/RoomName.h"

namespace sp = switchboard::protocol;
using nlohmann::json;
using sp::ErrorCode;
using sp::Op;

namespace {

// Parses `text` and expects success.
sp::Command ok(const std::string& text) {
  sp::ParseResult r = sp::parse_command(text);
  if (auto* err = std::get_if<sp::CommandError>(&r)) {
    ADD_FAILURE() << "expected success for " << text << ", got " << sp::to_string(err->code)
                  << ": " << err->message;
    return {};
  }
  return std::get<sp::Command>(std::move(r));
}

// Parses `text` and expects an error.
sp::CommandError fail(const std::string& text) {
  sp::ParseResult r = sp::parse_command(text);
  if (std::holds_alternative<sp::Command>(r)) {
    ADD_FAILURE() << "expected an error for " << text;
    return {ErrorCode::internal, "", nullptr};
  }
  return std::get<sp::CommandError>(std::move(r));
}

std::string nested(int depth) {  // `depth` arrays inside each other
  return std::string(depth, '[') + std::string(depth, ']');
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// parse_command: every op
// ---------------------------------------------------------------------------------------------

TEST(ParseCommand, SubscribeWithoutPresence) {
  sp::Command r = ok(R"({"op":"subscribe","id":1,"room":"chat:lobby"})");
  EXPECT_EQ(r.op, Op::subscribe);
  EXPECT_EQ(r.id, json(1));
  EXPECT_EQ(r.room, "chat:lobby");
  EXPECT_FALSE(r.presence);
}

TEST(ParseCommand, SubscribeWithPresenceTrue) {
  sp::Command r = ok(R"({"op":"subscribe","id":1,"room":"chat:lobby","presence":true})");
  EXPECT_EQ(r.op, Op::subscribe);
  EXPECT_EQ(r.room, "chat:lobby");
  EXPECT_TRUE(r.presence);
}

TEST(ParseCommand, SubscribeWithPresenceFalse) {
  sp::Command r = ok(R"({"op":"subscribe","id":1,"room":"r","presence":false})");
  EXPECT_EQ(r.op, Op::subscribe);
  EXPECT_FALSE(r.presence);
}

TEST(ParseCommand, Unsubscribe) {
  sp::Command r = ok(R"({"op":"unsubscribe","id":2,"room":"chat:lobby"})");
  EXPECT_EQ(r.op, Op::unsubscribe);
  EXPECT_EQ(r.id, json(2));
  EXPECT_EQ(r.room, "chat:lobby");
}

TEST(ParseCommand, PublishObjectData) {
  sp::Command r = ok(R"({"op":"publish","id":3,"room":"chat:lobby","data":{"text":"hi","n":[1,2]}})");
  EXPECT_EQ(r.op, Op::publish);
  EXPECT_EQ(r.id, json(3));
  EXPECT_EQ(r.room, "chat:lobby");
  EXPECT_EQ(r.data, R"({"text":"hi","n":[1,2]})");  // the publisher's text, member order kept
}

TEST(ParseCommand, PublishNullData) {
  sp::Command r = ok(R"({"op":"publish","room":"r","data":null})");
  EXPECT_EQ(r.op, Op::publish);
  EXPECT_EQ(r.data, "null");
}

TEST(ParseCommand, PublishArrayData) {
  sp::Command r = ok(R"({"op":"publish","room":"r","data":[1,"two",null,{"x":false}]})");
  EXPECT_EQ(r.data, R"([1,"two",null,{"x":false}])");
}

TEST(ParseCommand, PublishStringData) {
  sp::Command r = ok(R"({"op":"publish","room":"r","data":"hello"})");
  EXPECT_EQ(r.data, R"("hello")");
}

TEST(ParseCommand, PublishScalarData) {
  EXPECT_EQ(ok(R"({"op":"publish","room":"r","data":42})").data, "42");
  EXPECT_EQ(ok(R"({"op":"publish","room":"r","data":1.5})").data, "1.5");
  EXPECT_EQ(ok(R"({"op":"publish","room":"r","data":true})").data, "true");
  EXPECT_EQ(ok(R"({"op":"publish","room":"r","data":{}})").data, "{}");
  EXPECT_EQ(ok(R"({"op":"publish","room":"r","data":[]})").data, "[]");
}

TEST(ParseCommand, Presence) {
  sp::Command r = ok(R"({"op":"presence","id":4,"room":"chat:lobby"})");
  EXPECT_EQ(r.op, Op::presence);
  EXPECT_EQ(r.id, json(4));
  EXPECT_EQ(r.room, "chat:lobby");
}

TEST(ParseCommand, Ping) {
  sp::Command r = ok(R"({"op":"ping","id":5})");
  EXPECT_EQ(r.op, Op::ping);
  EXPECT_EQ(r.id, json(5));
  EXPECT_TRUE(r.room.empty());
}

TEST(ParseCommand, PingIgnoresRoom) {
  // ping takes no room, so even an invalid one is not looked at.
  sp::Command r = ok(R"({"op":"ping","room":"not a room $"})");
  EXPECT_EQ(r.op, Op::ping);
}

// ---------------------------------------------------------------------------------------------
// parse_command: id
// ---------------------------------------------------------------------------------------------

TEST(ParseCommand, IntegerId) {
  EXPECT_EQ(ok(R"({"op":"ping","id":0})").id, json(0));
  EXPECT_EQ(ok(R"({"op":"ping","id":-7})").id, json(-7));
  EXPECT_EQ(ok(R"({"op":"ping","id":9007199254740993})").id, json(9007199254740993LL));
  EXPECT_EQ(ok(R"({"op":"ping","id":18446744073709551615})").id, json(18446744073709551615ULL));
}

TEST(ParseCommand, StringId) {
  sp::Command r = ok(R"({"op":"ping","id":"req-1"})");
  EXPECT_EQ(r.id, json("req-1"));
  EXPECT_EQ(ok(R"({"op":"ping","id":""})").id, json(""));
}

TEST(ParseCommand, StringIdOf64BytesAccepted) {
  std::string id(64, 'x');
  EXPECT_EQ(ok(R"({"op":"ping","id":")" + id + "\"}").id, json(id));
}

TEST(ParseCommand, MissingIdIsNull) {
  sp::Command r = ok(R"({"op":"subscribe","room":"r"})");
  EXPECT_TRUE(r.id.is_null());
}

TEST(ParseCommand, UnknownFieldsIgnored) {
  sp::Command r = ok(R"({"op":"subscribe","id":1,"room":"r","extra":{"a":[1]},"v":2})");
  EXPECT_EQ(r.op, Op::subscribe);
  EXPECT_EQ(r.room, "r");
}

TEST(ParseCommand, FieldOrderDoesNotMatter) {
  sp::Command r = ok(R"({"data":[1],"room":"r","id":"x","op":"publish"})");
  EXPECT_EQ(r.op, Op::publish);
  EXPECT_EQ(r.id, json("x"));
  EXPECT_EQ(r.data, "[1]");
}

// ---------------------------------------------------------------------------------------------
// parse_command: errors
// ---------------------------------------------------------------------------------------------

TEST(ParseCommandError, NotJsonIsBadJsonWithNullId) {
  for (const char* text : {"", "hello", "{", R"({"op":"ping","id":1)", R"({"op":"ping",})",
                           "{'op':'ping'}", R"({"op":"ping"} trailing)"}) {
    SCOPED_TRACE(text);
    sp::CommandError e = fail(text);
    EXPECT_EQ(e.code, ErrorCode::bad_json);
    EXPECT_TRUE(e.id.is_null());
    EXPECT_FALSE(e.message.empty());
  }
}

TEST(ParseCommandError, InvalidUtf8IsBadJson) {
  sp::CommandError e = fail("{\"op\":\"ping\",\"id\":\"\xff\xfe\"}");
  EXPECT_EQ(e.code, ErrorCode::bad_json);
  EXPECT_TRUE(e.id.is_null());
}

TEST(ParseCommandError, NonObjectIsBadRequest) {
  for (const char* text : {"[]", R"([{"op":"ping"}])", "1", R"("ping")", "null", "true"}) {
    SCOPED_TRACE(text);
    sp::CommandError e = fail(text);
    EXPECT_EQ(e.code, ErrorCode::bad_request);
    EXPECT_TRUE(e.id.is_null());
  }
}

TEST(ParseCommandError, BadIdTypes) {
  std::string long_id(65, 'x');
  for (std::string text :
       {std::string(R"({"op":"ping","id":1.5})"), std::string(R"({"op":"ping","id":1.0})"),
        std::string(R"({"op":"ping","id":true})"), std::string(R"({"op":"ping","id":false})"),
        std::string(R"({"op":"ping","id":{"a":1}})"), std::string(R"({"op":"ping","id":[1]})"),
        std::string(R"({"op":"ping","id":null})"),
        std::string(R"({"op":"ping","id":")") + long_id + "\"}"}) {
    SCOPED_TRACE(text);
    sp::CommandError e = fail(text);
    EXPECT_EQ(e.code, ErrorCode::bad_request);
    EXPECT_TRUE(e.id.is_null());  // an invalid id is never echoed
  }
}

TEST(ParseCommandError, MissingOpEchoesId) {
  sp::CommandError e = fail(R"({"id":7,"room":"r"})");
  EXPECT_EQ(e.code, ErrorCode::bad_request);
  EXPECT_EQ(e.id, json(7));
}

TEST(ParseCommandError, NonStringOpEchoesId) {
  for (const char* text : {R"({"id":"a","op":1})", R"({"id":"a","op":null})",
                           R"({"id":"a","op":["ping"]})", R"({"id":"a","op":{"name":"ping"}})"}) {
    SCOPED_TRACE(text);
    sp::CommandError e = fail(text);
    EXPECT_EQ(e.code, ErrorCode::bad_request);
    EXPECT_EQ(e.id, json("a"));
  }
}

TEST(ParseCommandError, UnknownOpEchoesId) {
  for (const char* text : {R"({"id":8,"op":"shout","room":"r"})", R"({"id":8,"op":""})",
                           R"({"id":8,"op":"PING"})", R"({"id":8,"op":"subscribe "})"}) {
    SCOPED_TRACE(text);
    sp::CommandError e = fail(text);
    EXPECT_EQ(e.code, ErrorCode::unknown_op);
    EXPECT_EQ(e.id, json(8));
  }
}

TEST(ParseCommandError, UnknownOpWithoutId) {
  sp::CommandError e = fail(R"({"op":"shout"})");
  EXPECT_EQ(e.code, ErrorCode::unknown_op);
  EXPECT_TRUE(e.id.is_null());
}

TEST(ParseCommandError, MissingRoom) {
  for (const char* op : {"subscribe", "unsubscribe", "publish", "presence"}) {
    SCOPED_TRACE(op);
    std::string text = std::string(R"({"id":9,"op":")") + op + R"(","data":1})";
    sp::CommandError e = fail(text);
    EXPECT_EQ(e.code, ErrorCode::bad_request);
    EXPECT_EQ(e.id, json(9));
  }
}

TEST(ParseCommandError, NonStringRoom) {
  for (const char* room : {"1", "null", "true", "[\"r\"]", "{\"name\":\"r\"}"}) {
    SCOPED_TRACE(room);
    std::string text = std::string(R"({"id":10,"op":"subscribe","room":)") + room + "}";
    sp::CommandError e = fail(text);
    EXPECT_EQ(e.code, ErrorCode::bad_request);
    EXPECT_EQ(e.id, json(10));
  }
}

TEST(ParseCommandError, InvalidRoomNamesAreBadRoom) {
  std::string too_long(201, 'a');
  for (std::string room : {std::string(""), too_long, std::string("chat lobby"),
                           std::string("caf\xc3\xa9"), std::string("\xe2\x98\x83"),
                           std::string("price$"), std::string("#general"), std::string("a\\\\b"),
                           std::string("a\\tb"), std::string("a\\u0000b"), std::string("a+b"),
                           std::string("a?b"), std::string("a*b"), std::string("a,b")}) {
    SCOPED_TRACE(room);
    std::string text = R"({"id":"r1","op":"subscribe","room":")" + room + "\"}";
    sp::CommandError e = fail(text);
    EXPECT_EQ(e.code, ErrorCode::bad_room);
    EXPECT_EQ(e.id, json("r1"));
  }
}

TEST(ParseCommandError, BadRoomForEveryOpThatTakesARoom) {
  for (const char* op : {"subscribe", "unsubscribe", "publish", "presence"}) {
    SCOPED_TRACE(op);
    std::string text = std::string(R"({"id":1,"op":")") + op + R"(","room":"a b","data":1})";
    EXPECT_EQ(fail(text).code, ErrorCode::bad_room);
  }
}

TEST(ParseCommand, RoomNameEdgeCasesAccepted) {
  std::string max(200, 'z');
  EXPECT_EQ(ok(R"({"op":"subscribe","room":")" + max + "\"}").room, max);
  EXPECT_EQ(ok(R"({"op":"subscribe","room":"a"})").room, "a");
  const std::string punct = "chat:team_1-a.b@example.com/x";
  EXPECT_EQ(ok(R"({"op":"subscribe","room":")" + punct + "\"}").room, punct);
  EXPECT_EQ(ok(R"({"op":"subscribe","room":":_-.@/"})").room, ":_-.@/");
  const std::string alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  EXPECT_EQ(ok(R"({"op":"subscribe","room":")" + alnum + "\"}").room, alnum);
}

TEST(RoomName, IsValidRoomName) {
  EXPECT_TRUE(sp::is_valid_room_name("a"));
  EXPECT_TRUE(sp::is_valid_room_name(std::string(200, 'a')));
  EXPECT_TRUE(sp::is_valid_room_name(":_-.@/"));
  EXPECT_FALSE(sp::is_valid_room_name(""));
  EXPECT_FALSE(sp::is_valid_room_name(std::string(201, 'a')));
  EXPECT_FALSE(sp::is_valid_room_name("a b"));
  EXPECT_FALSE(sp::is_valid_room_name("a$"));
  EXPECT_FALSE(sp::is_valid_room_name("#a"));
  EXPECT_FALSE(sp::is_valid_room_name("caf\xc3\xa9"));
  EXPECT_FALSE(sp::is_valid_room_name(std::string("a\0b", 3)));
  EXPECT_EQ(sp::kMaxRoomNameBytes, 200u);
}

TEST(ParseCommandError, PresenceNotBoolean) {
  for (const char* value : {"1", "0", "\"true\"", "null", "[]", "{}"}) {
    SCOPED_TRACE(value);
    std::string text = std::string(R"({"id":11,"op":"subscribe","room":"r","presence":)") + value + "}";
    sp::CommandError e = fail(text);
    EXPECT_EQ(e.code, ErrorCode::bad_request);
    EXPECT_EQ(e.id, json(11));
  }
}

TEST(ParseCommand, PublishWithAnIdempotencyKey) {
  EXPECT_EQ(ok(R"({"op":"publish","room":"r","data":1,"idem":"3f0c-9a:x_1.b"})").idem, "3f0c-9a:x_1.b");
  EXPECT_EQ(ok(R"({"op":"publish","room":"r","data":1})").idem, "");
  EXPECT_EQ(ok(R"({"op":"publish","room":"r","data":1,"idem":")" + std::string(64, 'k') + R"("})").idem,
            std::string(64, 'k'));
}

TEST(ParseCommandError, PublishWithABadIdempotencyKey) {
  const std::vector<std::string> bad = {R"("")", R"(")" + std::string(65, 'k') + R"(")", R"("a b")", R"("a|b")",
                                        R"("é")", "7", "null", R"(["k"])"};
  for (const auto& idem : bad) {
    sp::CommandError e = fail(R"({"id":13,"op":"publish","room":"r","data":1,"idem":)" + idem + "}");
    EXPECT_EQ(e.code, ErrorCode::bad_request) << idem;
    EXPECT_EQ(e.message, "idem must be a string of 1-64 letters, digits and _ - . :") << idem;
    EXPECT_EQ(e.id, json(13));
  }
}

TEST(ParsePublishBody, TakesAnIdempotencyKey) {
  auto body = std::get<sp::PublishBody>(sp::parse_publish_body(R"({"room":"r","data":1,"idem":"order-77"})"));
  EXPECT_EQ(body.idem, "order-77");
  auto bad = std::get<sp::CommandError>(sp::parse_publish_body(R"({"room":"r","data":1,"idem":"a/b"})"));
  EXPECT_EQ(bad.code, ErrorCode::bad_request);
}

TEST(ParseCommandError, PublishWithoutData) {
  sp::CommandError e = fail(R"({"id":12,"op":"publish","room":"r"})");
  EXPECT_EQ(e.code, ErrorCode::bad_request);
  EXPECT_EQ(e.id, json(12));
}

// ---------------------------------------------------------------------------------------------
// parse_command: nesting depth
// ---------------------------------------------------------------------------------------------

TEST(ParseRequestDepth, Exactly64LevelsAccepted) {
  // The request object is level 1, so data may hold 63 more levels.
  std::string text = R"({"op":"publish","room":"r","data":)" + nested(63) + "}";
  sp::Command r = ok(text);
  EXPECT_EQ(r.op, Op::publish);
  // Check the depth really is 63 below the request object.
  json parsed = json::parse(r.data);
  const json* v = &parsed;
  int depth = 0;
  while (v->is_array() && !v->empty()) {
    v = &(*v)[0];
    ++depth;
  }
  EXPECT_EQ(depth + 1, 63);  // the innermost array is empty
}

TEST(ParseRequestDepth, Level65Refused) {
  std::string text = R"({"id":1,"op":"publish","room":"r","data":)" + nested(64) + "}";
  sp::CommandError e = fail(text);
  EXPECT_EQ(e.code, ErrorCode::bad_request);
  // The depth check runs before parsing, so the id cannot be echoed.
  EXPECT_TRUE(e.id.is_null());
}

TEST(ParseRequestDepth, ObjectsCountToo) {
  std::string deep;
  for (int i = 0; i < 64; ++i) deep += R"({"a":)";
  deep += "1";
  deep += std::string(64, '}');
  EXPECT_EQ(fail(R"({"op":"publish","room":"r","data":)" + deep + "}").code, ErrorCode::bad_request);
}

TEST(ParseRequestDepth, VeryDeepRefusedWithoutCrash) {
  std::string text = R"({"op":"publish","room":"r","data":)" + nested(100000) + "}";
  EXPECT_EQ(fail(text).code, ErrorCode::bad_request);
}

TEST(ParseRequestDepth, SiblingsDoNotAddUp) {
  // 100 arrays side by side, each 10 deep: depth is 12, not 1000.
  std::string data = "[";
  for (int i = 0; i < 100; ++i) {
    if (i) data += ',';
    data += nested(10);
  }
  data += "]";
  ok(R"({"op":"publish","room":"r","data":)" + data + "}");
}

TEST(ParseRequestDepth, BracketsInsideStringsDoNotCount) {
  std::string brackets = std::string(200, '[') + std::string(100, '{');
  sp::Command r = ok(R"({"op":"publish","room":"r","data":")" + brackets + "\"}");
  EXPECT_EQ(json::parse(r.data), json(brackets));
}

TEST(ParseRequestDepth, EscapedQuotesInsideStringsHandled) {
  // An escaped quote does not end the string, so the brackets after it are still inside it.
  std::string inner = std::string(R"(\")") + std::string(100, '[') + R"(\\)";
  sp::Command r = ok(R"({"op":"publish","room":"r","data":")" + inner + "\"}");
  EXPECT_EQ(json::parse(r.data), json("\"" + std::string(100, '[') + "\\"));
}

TEST(ParseRequestDepth, BracketsInKeysDoNotCount) {
  std::string key(100, '{');
  sp::Command r = ok(R"({"op":"publish","room":"r","data":{")" + key + R"(":1}})");
  EXPECT_EQ(json::parse(r.data)[key], json(1));
}

// ---------------------------------------------------------------------------------------------
// Serializers
// ---------------------------------------------------------------------------------------------

TEST(Messages, OkReplyIntegerId) {
  std::string text = sp::ok_reply(json(1));
  json j = json::parse(text);
  EXPECT_EQ(j, json::parse(R"({"id":1,"ok":true})"));
  EXPECT_EQ(text, R"({"id":1,"ok":true})");
}

TEST(Messages, OkReplyStringId) {
  json j = json::parse(sp::ok_reply(json("abc")));
  EXPECT_EQ(j["id"], json("abc"));
  EXPECT_EQ(j["ok"], json(true));
  EXPECT_EQ(j.size(), 2u);
}

TEST(Messages, ErrorReplyWithId) {
  std::string text = sp::error_reply(json(7), ErrorCode::not_subscribed, "not subscribed to r");
  json j = json::parse(text);
  EXPECT_EQ(j["id"], json(7));
  EXPECT_EQ(j["error"]["code"], json("not_subscribed"));
  EXPECT_EQ(j["error"]["message"], json("not subscribed to r"));
  EXPECT_EQ(j.size(), 2u);
  EXPECT_EQ(j["error"].size(), 2u);
  EXPECT_FALSE(j.contains("ok"));
}

TEST(Messages, ErrorReplyWithStringId) {
  json j = json::parse(sp::error_reply(json("q"), ErrorCode::bad_room, "bad"));
  EXPECT_EQ(j["id"], json("q"));
  EXPECT_EQ(j["error"]["code"], json("bad_room"));
}

TEST(Messages, ErrorReplyWithoutId) {
  std::string text = sp::error_reply(nullptr, ErrorCode::bad_json, "frame is not valid JSON");
  json j = json::parse(text);
  EXPECT_FALSE(j.contains("id"));
  EXPECT_EQ(j["error"]["code"], json("bad_json"));
  EXPECT_EQ(j["error"]["message"], json("frame is not valid JSON"));
  EXPECT_EQ(j.size(), 1u);
}

TEST(Messages, ErrorReplyEscapesMessage) {
  std::string message = "quote \" backslash \\ newline \n tab \t";
  json j = json::parse(sp::error_reply(json(1), ErrorCode::internal, message));
  EXPECT_EQ(j["error"]["message"], json(message));
}

TEST(Messages, ErrorReplyEveryCode) {
  for (ErrorCode code : sp::all_error_codes()) {
    json j = json::parse(sp::error_reply(json(1), code, "m"));
    EXPECT_EQ(j["error"]["code"], json(std::string(sp::to_string(code))));
  }
}

TEST(Messages, PresenceReply) {
  std::vector<sp::PresenceMember> users = {
      {"alice", json::parse(R"({"name":"Alice"})"), 2},
      {"bob", json::object(), 1},
  };
  json j = json::parse(sp::presence_reply(json(4), users));
  EXPECT_EQ(j["id"], json(4));
  EXPECT_EQ(j["ok"], json(true));
  ASSERT_TRUE(j["users"].is_array());
  ASSERT_EQ(j["users"].size(), 2u);
  EXPECT_EQ(j["users"][0], json::parse(R"({"user":"alice","info":{"name":"Alice"},"conns":2})"));
  EXPECT_EQ(j["users"][1], json::parse(R"({"user":"bob","info":{},"conns":1})"));
}

TEST(Messages, PresenceReplyEmpty) {
  std::string text = sp::presence_reply(json("p"), {});
  json j = json::parse(text);
  EXPECT_EQ(j, json::parse(R"({"id":"p","ok":true,"users":[]})"));
}

TEST(Messages, MessagePush) {
  json data = json::parse(R"({"text":"hi","n":[1,2,null]})");
  sp::Payload p = sp::message_push("chat:lobby", data.dump(), "alice");
  ASSERT_TRUE(p);
  json j = json::parse(*p);
  EXPECT_EQ(j["type"], json("message"));
  EXPECT_EQ(j["room"], json("chat:lobby"));
  EXPECT_EQ(j["data"], data);
  EXPECT_EQ(j["from"], json("alice"));
  EXPECT_EQ(j.size(), 4u);
}

TEST(Messages, MessagePushFieldOrder) {
  // Clients may dispatch on the prefix, so "type" then "room" come first, literally.
  sp::Payload p = sp::message_push("r", "1", "u");
  EXPECT_EQ(p->rfind(R"({"type":"message","room":)", 0), 0u) << *p;
  EXPECT_EQ(*p, R"({"type":"message","room":"r","data":1,"from":"u"})");
}

TEST(Messages, MessagePushAnyData) {
  for (const char* data : {"null", "[]", "[1,\"a\"]", "\"s\"", "{}", "true", "-3", "2.5"}) {
    SCOPED_TRACE(data);
    json d = json::parse(data);
    json j = json::parse(*sp::message_push("r", data, "u"));
    EXPECT_EQ(j["data"], d);
    EXPECT_TRUE(j.contains("data"));
  }
}

TEST(Messages, PresenceEventJoin) {
  json info = json::parse(R"({"name":"Alice","role":"admin"})");
  sp::Payload p = sp::presence_event(sp::PresenceEventType::join, "chat:lobby", "alice", info);
  json j = json::parse(*p);
  EXPECT_EQ(j, json::parse(
                   R"({"type":"join","room":"chat:lobby","user":"alice","info":{"name":"Alice","role":"admin"}})"));
  EXPECT_EQ(p->rfind(R"({"type":"join","room":)", 0), 0u) << *p;
}

TEST(Messages, PresenceEventLeave) {
  sp::Payload p = sp::presence_event(sp::PresenceEventType::leave, "r", "bob", json::object());
  json j = json::parse(*p);
  EXPECT_EQ(j, json::parse(R"({"type":"leave","room":"r","user":"bob","info":{}})"));
  EXPECT_EQ(p->rfind(R"({"type":"leave","room":)", 0), 0u) << *p;
}

TEST(Messages, NonUtf8IsReplacedNotThrown) {
  const std::string bad = "al\xffice\xc3";  // a stray byte and a truncated sequence
  const std::string replacement = "\xef\xbf\xbd";  // U+FFFD

  sp::Payload push;
  ASSERT_NO_THROW(push = sp::message_push("r", "{}", bad));
  json j = json::parse(*push);  // the output is valid UTF-8 JSON
  std::string from = j["from"].get<std::string>();
  EXPECT_NE(from.find(replacement), std::string::npos) << from;
  EXPECT_EQ(from.rfind("al", 0), 0u);

  sp::Payload event;
  ASSERT_NO_THROW(event = sp::presence_event(sp::PresenceEventType::join, "r", bad,
                                             json{{"name", bad}}));
  json e = json::parse(*event);
  EXPECT_NE(e["user"].get<std::string>().find(replacement), std::string::npos);
  EXPECT_NE(e["info"]["name"].get<std::string>().find(replacement), std::string::npos);

  std::string reply;
  ASSERT_NO_THROW(reply = sp::presence_reply(json(1), {{bad, json{{"k", bad}}, 1}}));
  json r = json::parse(reply);
  EXPECT_NE(r["users"][0]["user"].get<std::string>().find(replacement), std::string::npos);

  std::string err;
  ASSERT_NO_THROW(err = sp::error_reply(json(1), ErrorCode::internal, bad));
  EXPECT_NO_THROW((void)json::parse(err));
}

// ---------------------------------------------------------------------------------------------
// Error codes
// ---------------------------------------------------------------------------------------------

TEST(ErrorCodes, NamesAreUniqueAndNonEmpty) {
  std::set<std::string> names;
  for (ErrorCode code : sp::all_error_codes()) {
    std::string name(sp::to_string(code));
    EXPECT_FALSE(name.empty());
    EXPECT_TRUE(names.insert(name).second) << "duplicate name " << name;
  }
  EXPECT_EQ(names.size(), sp::kErrorCodeCount);
}

TEST(ErrorCodes, WireNames) {
  EXPECT_EQ(sp::to_string(ErrorCode::bad_json), "bad_json");
  EXPECT_EQ(sp::to_string(ErrorCode::bad_request), "bad_request");
  EXPECT_EQ(sp::to_string(ErrorCode::unknown_op), "unknown_op");
  EXPECT_EQ(sp::to_string(ErrorCode::bad_room), "bad_room");
  EXPECT_EQ(sp::to_string(ErrorCode::not_subscribed), "not_subscribed");
  EXPECT_EQ(sp::to_string(ErrorCode::too_many_rooms), "too_many_rooms");
  EXPECT_EQ(sp::to_string(ErrorCode::forbidden), "forbidden");
  EXPECT_EQ(sp::to_string(ErrorCode::bad_token), "bad_token");
  EXPECT_EQ(sp::to_string(ErrorCode::rate_limited), "rate_limited");
  EXPECT_EQ(sp::to_string(ErrorCode::unavailable), "unavailable");
  EXPECT_EQ(sp::to_string(ErrorCode::internal), "internal");
}

TEST(ErrorCodes, AllCodesInDeclarationOrder) {
  const auto& codes = sp::all_error_codes();
  for (std::size_t i = 0; i < codes.size(); ++i) EXPECT_EQ(static_cast<std::size_t>(codes[i]), i);
}

// ---------------------------------------------------------------------------------------------
// Token refresh, pushes, and the HTTP publish body
// ---------------------------------------------------------------------------------------------

TEST(ParseCommand, Refresh) {
  sp::Command r = ok(R"({"op":"refresh","id":6,"token":"a.b.c","room":"ignored $"})");
  EXPECT_EQ(r.op, Op::refresh);
  EXPECT_EQ(r.token, "a.b.c");
  for (const char* bad : {R"({"op":"refresh","id":1})", R"({"op":"refresh","id":1,"token":""})",
                          R"({"op":"refresh","id":1,"token":7})"}) {
    auto e = fail(bad);
    EXPECT_EQ(e.code, ErrorCode::bad_request) << bad;
    EXPECT_EQ(e.id, json(1));
  }
}

TEST(Messages, RefreshAndUnsubscribedPushes) {
  EXPECT_EQ(*sp::refresh_push(1790000000), R"({"type":"refresh","exp":1790000000})");
  EXPECT_EQ(json::parse(*sp::unsubscribed_push("a:b", ErrorCode::forbidden, "no \"longer\"")),
            (json{{"type", "unsubscribed"}, {"room", "a:b"}, {"code", "forbidden"}, {"message", "no \"longer\""}}));
}

TEST(PublishBody, ValidBodies) {
  auto r = sp::parse_publish_body(R"({"room":"chat:a","data":{"x":[1,2]}})");
  ASSERT_TRUE(std::holds_alternative<sp::PublishBody>(r));
  auto& body = std::get<sp::PublishBody>(r);
  EXPECT_EQ(body.room, "chat:a");
  EXPECT_EQ(body.data, R"({"x":[1,2]})");
  EXPECT_FALSE(body.from);
  auto with_from = std::get<sp::PublishBody>(sp::parse_publish_body(R"({"room":"r","data":null,"from":"ci"})"));
  EXPECT_EQ(with_from.from, "ci");
  EXPECT_EQ(with_from.data, "null");
}

TEST(PublishBody, InvalidBodies) {
  auto code = [](const std::string& text) {
    auto r = sp::parse_publish_body(text);
    return std::holds_alternative<sp::CommandError>(r) ? std::get<sp::CommandError>(r).code : ErrorCode::internal;
  };
  EXPECT_EQ(code("nope"), ErrorCode::bad_json);
  EXPECT_EQ(code("[]"), ErrorCode::bad_request);
  EXPECT_EQ(code(R"({"data":1})"), ErrorCode::bad_request);
  EXPECT_EQ(code(R"({"room":1,"data":1})"), ErrorCode::bad_request);
  EXPECT_EQ(code(R"({"room":"a b","data":1})"), ErrorCode::bad_room);
  EXPECT_EQ(code(R"({"room":"r"})"), ErrorCode::bad_request);
  EXPECT_EQ(code(R"({"room":"r","data":1,"from":5})"), ErrorCode::bad_request);
  EXPECT_EQ(code(R"({"room":"r","data":1,"from":")" + std::string(201, 'x') + "\"}"), ErrorCode::bad_request);
  EXPECT_EQ(code(std::string(65, '[') + std::string(65, ']')), ErrorCode::bad_request);
}

// ---------------------------------------------------------------------------------------------
// History and positions
// ---------------------------------------------------------------------------------------------

TEST(ParseCommand, SubscribeSince) {
  sp::Command r = ok(R"({"op":"subscribe","room":"r","since":{"offset":41,"epoch":"abc"}})");
  ASSERT_TRUE(r.since.has_value());
  EXPECT_EQ(r.since->offset, 41u);
  EXPECT_EQ(r.since->epoch, "abc");
  EXPECT_FALSE(ok(R"({"op":"subscribe","room":"r"})").since.has_value());
  for (const char* bad : {R"("x")", "null", "{}", R"({"offset":1})", R"({"epoch":"e"})", R"({"offset":-1,"epoch":"e"})",
                          R"({"offset":1.0,"epoch":"e"})", R"({"offset":"1","epoch":"e"})", R"({"offset":1,"epoch":2})"}) {
    auto err = fail(std::string(R"({"op":"subscribe","id":3,"room":"r","since":)") + bad + "}");
    EXPECT_EQ(err.code, ErrorCode::bad_request) << bad;
    EXPECT_EQ(err.id, json(3));
  }
  EXPECT_EQ(fail(R"({"op":"subscribe","room":"r","since":{"offset":1,"epoch":")" + std::string(65, 'e') + "\"}}").code,
            ErrorCode::bad_request);
}

TEST(ParseCommand, History) {
  sp::Command r = ok(R"({"op":"history","id":1,"room":"r"})");
  EXPECT_EQ(r.op, Op::history);
  EXPECT_EQ(r.limit, sp::kDefaultHistoryLimit);
  EXPECT_EQ(ok(R"({"op":"history","room":"r","limit":1000})").limit, 1000u);
  for (const char* bad : {"0", "1001", "-5", "2.5", R"("10")", "null"})
    EXPECT_EQ(fail(std::string(R"({"op":"history","room":"r","limit":)") + bad + "}").code, ErrorCode::bad_request) << bad;
  EXPECT_EQ(fail(R"({"op":"history"})").code, ErrorCode::bad_request);  // room required
}

TEST(Serialize, PositionsInReplies) {
  EXPECT_EQ(sp::subscribe_reply(1, {41, "ep"}, std::nullopt), R"({"id":1,"ok":true,"offset":41,"epoch":"ep"})");
  EXPECT_EQ(sp::subscribe_reply("a", {0, "ep"}, true), R"({"id":"a","ok":true,"offset":0,"epoch":"ep","recovered":true})");
  EXPECT_EQ(sp::subscribe_reply(2, {3, "ep"}, false), R"({"id":2,"ok":true,"offset":3,"epoch":"ep","recovered":false})");
  EXPECT_EQ(sp::publish_reply(7, 42), R"({"id":7,"ok":true,"offset":42})");
  auto push = sp::message_push("r", R"({"t":1})", "bob");
  std::string numbered = sp::with_offset(*push, 42);
  EXPECT_EQ(numbered, R"({"type":"message","room":"r","data":{"t":1},"from":"bob","offset":42})");
  EXPECT_EQ(sp::history_reply(3, {42, "ep"}, {sp::make_payload(numbered)}),
            R"({"id":3,"ok":true,"offset":42,"epoch":"ep","messages":[)" + numbered + "]}");
  EXPECT_EQ(sp::history_reply(4, {0, "ep"}, {}), R"({"id":4,"ok":true,"offset":0,"epoch":"ep","messages":[]})");
  EXPECT_EQ(sp::history_reply(5, {0, "ep"}, {}, true),
            R"({"id":5,"ok":true,"offset":0,"epoch":"ep","messages":[],"truncated":true})");
}

TEST(Serialize, HttpApiAnswers) {
  EXPECT_EQ(sp::publish_reply(nullptr, 42), R"({"ok":true,"offset":42})");
  EXPECT_EQ(sp::presence_answer("r", {{"ann", json{{"n", 1}}, 2}}),
            R"({"ok":true,"room":"r","users":[{"user":"ann","info":{"n":1},"conns":2}]})");
  EXPECT_EQ(sp::presence_answer("r", {}), R"({"ok":true,"room":"r","users":[]})");
  EXPECT_EQ(sp::error_answer("not_found", "no such path"), R"({"error":{"code":"not_found","message":"no such path"}})");
  EXPECT_EQ(sp::status_answer("ok"), R"({"status":"ok"})");
  EXPECT_EQ(sp::dev_token_answer("a.b.c", "ann", 3600), R"({"expires_in":3600,"token":"a.b.c","user":"ann"})");
  // Text that is not UTF-8 (a bad room name echoed back) is replaced, not thrown on.
  std::string answer;
  ASSERT_NO_THROW(answer = sp::error_answer("bad_request", "bad room name '\xff'"));
  EXPECT_TRUE(json::accept(answer));
}

// A store that numbers messages itself (a cluster's Redis script) writes the push around the
// offset where the slot says: the same bytes as with_offset.
TEST(Serialize, TheOffsetSlotWritesWhatWithOffsetWrites) {
  constexpr sp::OffsetSlot slot = sp::message_offset_slot();
  for (const auto& push : {sp::message_push("r", R"({"t":1})", "bob"), sp::message_push("a:b", "\"x}\"", ""),
                           sp::message_push("r", "[]", "\u00e9")})
    for (std::uint64_t offset : {1ull, 42ull, 18446744073709551615ull}) {
      std::string_view p = *push;
      std::string spliced = std::string(p.substr(0, p.size() - slot.kept)) + std::string(slot.before) +
                            std::to_string(offset) + std::string(p.substr(p.size() - slot.kept));
      EXPECT_EQ(spliced, sp::with_offset(p, offset));
    }
}

TEST(Serialize, ServerSentEventsPushes) {
  EXPECT_EQ(*sp::subscribed_push("r", {3, "ep"}, std::nullopt), R"({"type":"subscribed","room":"r","offset":3,"epoch":"ep"})");
  EXPECT_EQ(*sp::subscribed_push("r", {3, "ep"}, true),
            R"({"type":"subscribed","room":"r","offset":3,"epoch":"ep","recovered":true})");
  EXPECT_EQ(*sp::close_push(4001, "token expired"), R"({"type":"close","code":4001,"reason":"token expired"})");
  EXPECT_EQ(sp::history_reply(nullptr, {1, "ep"}, {}), R"({"ok":true,"offset":1,"epoch":"ep","messages":[]})");
}

TEST(EventId, FormatsEveryRoomWithAPositionAndParsesItBack) {
  sp::RoomPositions positions = {{"chat:lobby", {42, "9f2c.3"}}, {"not-yet", {0, ""}}, {"a/b", {0, "e"}}};
  std::string id = sp::format_event_id(positions);
  EXPECT_EQ(id, "chat:lobby=42.9f2c.3,a/b=0.e");
  auto parsed = sp::parse_event_id(id);
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].first, "chat:lobby");
  EXPECT_EQ((*parsed)[0].second.offset, 42u);
  EXPECT_EQ((*parsed)[0].second.epoch, "9f2c.3");
  EXPECT_EQ((*parsed)[1].first, "a/b");
  EXPECT_EQ(sp::format_event_id({}), "");
  EXPECT_TRUE(sp::parse_event_id("") && sp::parse_event_id("")->empty());
}

TEST(EventId, RefusesWhatItDoesNotWrite) {
  for (std::string bad : std::vector<std::string>{"a", "a=", "a=1", "a=1.", "a=x.e", "=1.e", "a b=1.e", "a=1.e,", ",a=1.e", "a=1.e,a=2.e",
                          "a=-1.e", "a=1.e f", "a=99999999999999999999.e", "a=1." + std::string(65, 'e')})
    EXPECT_FALSE(sp::parse_event_id(bad)) << bad;
}
