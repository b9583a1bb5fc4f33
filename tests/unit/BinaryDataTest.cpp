// Unit tests of binary payloads: {"$binary":"…"} data, the binary publish a client sends, and
// the binary frame a WebSocket subscriber receives.
#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "switchboard/protocol/BinaryData.h"
#include "switchboard/protocol/Command.h"
#include "switchboard/protocol/Messages.h"

namespace sp = switchboard::protocol;
using sp::ErrorCode;

namespace {

std::string push_of(const std::string& data) { return sp::with_offset(*sp::message_push("photos", data, "alice"), 7); }

}  // namespace

TEST(BinaryData, EncodesBytesAsPaddedStandardBase64) {
  EXPECT_EQ(sp::binary_data(""), R"({"$binary":""})");
  EXPECT_EQ(sp::binary_data("a"), R"({"$binary":"YQ=="})");
  EXPECT_EQ(sp::binary_data(std::string("\xff\xfe\x00", 3)), R"({"$binary":"//4A"})");
  EXPECT_TRUE(sp::is_binary_data(sp::binary_data("hello")));
  EXPECT_FALSE(sp::is_binary_data(R"({"text":"hello"})"));
}

TEST(BinaryData, OnlyTheExactShapeWithCanonicalBase64IsAccepted) {
  EXPECT_EQ(sp::binary_data_problem(R"({"$binary":"aGk="})"), std::nullopt);
  EXPECT_EQ(sp::binary_data_problem(R"({"$binary":""})"), std::nullopt);
  for (const char* bad : {R"({"$binary":"aGk"})",             // no padding
                          R"({"$binary":"aGl="})",            // bits left over in the last character
                          R"({"$binary":"aG-_"})",            // the URL alphabet
                          R"({"$binary":"a=Gk"})",            // padding inside
                          R"({"$binary":"aGk=","x":1})",      // another member
                          R"({"$binary":"aGk=","$binary":""})",
                          R"({"$binary":"a\u0047k="})",       // an escape
                          R"({"$binary":"aGk="}x)",
                          R"({"$binary":"})"})
    EXPECT_NE(sp::binary_data_problem(bad), std::nullopt) << bad;
}

TEST(BinaryData, APublishOfBinaryDataIsCheckedLikeAnyData) {
  auto ok = sp::parse_command(R"({"op":"publish","room":"r","data":{"$binary":"aGk="}})");
  ASSERT_TRUE(std::holds_alternative<sp::Command>(ok));
  EXPECT_EQ(std::get<sp::Command>(ok).data, R"({"$binary":"aGk="})");
  // Whitespace outside strings goes, as for any data: what is left is the exact shape.
  auto spaced = sp::parse_command(R"({"op":"publish","room":"r","data":{ "$binary" : "aGk=" }})");
  ASSERT_TRUE(std::holds_alternative<sp::Command>(spaced));
  EXPECT_EQ(std::get<sp::Command>(spaced).data, R"({"$binary":"aGk="})");
  auto bad = sp::parse_command(R"({"op":"publish","id":4,"room":"r","data":{"$binary":"not base64"}})");
  ASSERT_TRUE(std::holds_alternative<sp::CommandError>(bad));
  EXPECT_EQ(std::get<sp::CommandError>(bad).code, ErrorCode::bad_request);
  EXPECT_EQ(std::get<sp::CommandError>(bad).id, 4);
  auto body = sp::parse_publish_body(R"({"room":"r","data":{"$binary":"aGk"}})");
  EXPECT_TRUE(std::holds_alternative<sp::CommandError>(body));
  auto broadcast = sp::parse_broadcast_body(R"({"rooms":["r"],"data":{"$binary":"aGk=="}})");
  EXPECT_TRUE(std::holds_alternative<sp::CommandError>(broadcast));
  // Objects that merely hold a "$binary" member among others, or later, are ordinary data.
  EXPECT_TRUE(std::holds_alternative<sp::Command>(
      sp::parse_command(R"({"op":"publish","room":"r","data":{"x":1,"$binary":"?"}})")));
}

TEST(BinaryData, ABinaryFrameIsAPublishHeaderANewlineAndTheBytes) {
  const std::string bytes("\x00\n\xff{", 4);
  auto parsed = sp::parse_binary_command(R"({"op":"publish","id":3,"room":"photos","idem":"k1"})" "\n" + bytes);
  ASSERT_TRUE(std::holds_alternative<sp::Command>(parsed));
  const auto& req = std::get<sp::Command>(parsed);
  EXPECT_EQ(req.op, sp::Op::publish);
  EXPECT_EQ(req.id, 3);
  EXPECT_EQ(req.room, "photos");
  EXPECT_EQ(req.idem, "k1");
  EXPECT_EQ(req.data, sp::binary_data(bytes));
  // No bytes at all is an empty message.
  auto empty = sp::parse_binary_command("{\"op\":\"publish\",\"room\":\"photos\"}\n");
  ASSERT_TRUE(std::holds_alternative<sp::Command>(empty));
  EXPECT_EQ(std::get<sp::Command>(empty).data, R"({"$binary":""})");
}

TEST(BinaryData, ABinaryFrameThatIsNotAPublishOfBytesIsRefused) {
  auto code_of = [](std::string_view frame) {
    auto parsed = sp::parse_binary_command(frame);
    return std::holds_alternative<sp::CommandError>(parsed) ? std::get<sp::CommandError>(parsed).code
                                                             : ErrorCode::internal;
  };
  EXPECT_EQ(code_of(R"({"op":"publish","room":"r"})"), ErrorCode::bad_request);  // no newline
  EXPECT_EQ(code_of("\x01\x02"), ErrorCode::bad_request);
  EXPECT_EQ(code_of("{\"op\":\"ping\",\"id\":1}\n"), ErrorCode::bad_request);
  EXPECT_EQ(code_of("{\"op\":\"publish\",\"room\":\"r\",\"data\":1}\nxy"), ErrorCode::bad_request);
  EXPECT_EQ(code_of("{\"op\":\"publish\",\"room\":\"no spaces\"}\nxy"), ErrorCode::bad_room);
  EXPECT_EQ(code_of("{\"op\":\"publish\"\nxy"), ErrorCode::bad_json);
  auto refused = sp::parse_binary_command("{\"op\":\"subscribe\",\"id\":9,\"room\":\"r\"}\n");
  ASSERT_TRUE(std::holds_alternative<sp::CommandError>(refused));
  EXPECT_EQ(std::get<sp::CommandError>(refused).id, 9);
}

TEST(BinaryData, AMessageOfBinaryDataGoesToAWebSocketAsItsHeaderANewlineAndTheBytes) {
  const std::string bytes("\x89PNG\r\n\x1a\n\x00", 9);
  auto frame = sp::binary_frame_of(push_of(sp::binary_data(bytes)));
  ASSERT_NE(frame, nullptr);
  EXPECT_EQ(*frame, R"({"type":"message","room":"photos","from":"alice","offset":7})" "\n" + bytes);
  // Any other frame has none: a message of JSON data, replies, other pushes.
  EXPECT_EQ(sp::binary_frame_of(push_of(R"({"text":"hi"})")), nullptr);
  EXPECT_EQ(sp::binary_frame_of(push_of(R"("{\"$binary\":\"aGk=\"}")")), nullptr);
  EXPECT_EQ(sp::binary_frame_of(push_of(R"([{"$binary":"aGk="}])")), nullptr);
  EXPECT_EQ(sp::binary_frame_of(R"({"id":1,"ok":true})"), nullptr);
  EXPECT_EQ(sp::binary_frame_of(*sp::refresh_push(5)), nullptr);
}
