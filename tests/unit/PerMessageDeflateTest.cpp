// PerMessageDeflate: which offers of permessage-deflate the node takes (RFC 7692, 7.1), a
// message push compressed once per thread however many subscribers take it, and inflating what
// a client sends, bounded by the message size limit.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "switchboard/protocol/Payload.h"
#include "transport/PerMessageDeflate.h"

using namespace switchboard::server;
using switchboard::protocol::make_payload;

namespace {

std::string inflated(std::string_view compressed, std::size_t max = 1 << 20) {
  std::string_view out;
  EXPECT_EQ(inflate_message(compressed, max, out), InflateResult::ok);
  return std::string(out);
}

std::string push_of(std::size_t size, char fill) {
  return R"({"type":"message","room":"lobby","data":")" + std::string(size, fill) + R"(","from":"ann","offset":1})";
}

}  // namespace

TEST(PerMessageDeflate, TakesEachValidOfferThatLeavesItsWholeWindow) {
  for (const char* offer : {
           "permessage-deflate",
           "permessage-deflate; client_max_window_bits",                       // Chromium, Python's websockets
           "permessage-deflate; client_max_window_bits=10",
           "permessage-deflate; client_max_window_bits=\"12\"",
           "permessage-deflate; server_max_window_bits=15; client_max_window_bits=15",  // Beast's
           "Permessage-Deflate; Server_No_Context_Takeover; client_no_context_takeover",
           "x-webkit-deflate-frame, permessage-deflate",
           " permessage-deflate ;client_max_window_bits = 9 ",
           "permessage-deflate; server_max_window_bits=10, permessage-deflate",  // the second offer
       })
    EXPECT_TRUE(deflate_offered(offer)) << offer;
  for (const char* offer : {
           "",
           "x-webkit-deflate-frame",
           "permessage-deflate; server_max_window_bits=10",  // a window the node does not compress with
           "permessage-deflate; server_max_window_bits",     // a value is required
           "permessage-deflate; client_max_window_bits=7",
           "permessage-deflate; client_max_window_bits=16",
           "permessage-deflate; server_no_context_takeover=1",
           "permessage-deflate; client_max_window_bits; client_max_window_bits",
           "permessage-deflate; unknown_parameter",
           "permessage-deflate; client_max_window_bits=",
           "permessage-deflate; unknown_parameter, x-other",
       })
    EXPECT_FALSE(deflate_offered(offer)) << offer;
}

TEST(PerMessageDeflate, APushIsCompressedOncePerThreadAndInflatesAsItWas) {
  const auto push = make_payload(push_of(4000, 'a'));
  const Deflated first = deflate_frame(push);
  ASSERT_TRUE(first.frame);
  EXPECT_LT(first.frame->size(), 200u);
  EXPECT_EQ(first.saved, push->size() - first.frame->size());
  EXPECT_EQ(inflated(*first.frame), *push);
  // The next subscribers of the thread get the same compressed frame.
  EXPECT_EQ(deflate_frame(push).frame, first.frame);
  // Another message is compressed anew — even one with the same text, which is another message.
  const auto next = make_payload(push_of(4000, 'a'));
  EXPECT_NE(deflate_frame(next).frame, first.frame);
  EXPECT_EQ(inflated(*deflate_frame(next).frame), *next);
}

TEST(PerMessageDeflate, WhatDoesNotShrinkGoesAsItIs) {
  std::string noise(3000, '\0');
  std::uint32_t x = 12345;
  for (char& c : noise) {
    x = x * 1103515245 + 12345;
    c = static_cast<char>(x >> 24);
  }
  EXPECT_FALSE(deflate_frame(make_payload(noise)).frame);
  EXPECT_FALSE(deflate_frame(make_payload("{}")).frame);
  // A reply (not a push) is compressed each time it is asked.
  const std::string reply = R"({"id":1,"ok":true,"messages":[)" + std::string(3000, ' ') + "]}";
  const auto compressed = deflate_frame(make_payload(reply));
  ASSERT_TRUE(compressed.frame);
  EXPECT_EQ(inflated(*compressed.frame), reply);
}

TEST(PerMessageDeflate, InflatingIsBoundedAndChecked) {
  const auto bomb = deflate_frame(make_payload(std::string(1 << 20, 'z'))).frame;
  ASSERT_TRUE(bomb);
  std::string_view out;
  EXPECT_EQ(inflate_message(*bomb, (1 << 20) - 1, out), InflateResult::too_big);
  EXPECT_EQ(inflate_message(*bomb, 1 << 20, out), InflateResult::ok);
  EXPECT_EQ(out.size(), 1u << 20);
  EXPECT_EQ(inflate_message(std::string(5, '\xff'), 1000, out), InflateResult::invalid);
  // An empty message compresses to nothing but the empty block the sender leaves out.
  EXPECT_EQ(inflated(""), "");
  // A stream its sender ended with a final block (BFINAL) is taken too: "abc" as one fixed block.
  const unsigned char final_block[] = {0x4b, 0x4c, 0x4a, 0x06, 0x00};
  EXPECT_EQ(inflated(std::string_view(reinterpret_cast<const char*>(final_block), sizeof final_block)), "abc");
}
