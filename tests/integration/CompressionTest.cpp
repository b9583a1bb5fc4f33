// permessage-deflate (RFC 7692) between a node and clients that offer it — Beast's own client
// compressor and decompressor, not the node's — beside clients that do not: what is negotiated,
// that messages cross both ways compressed and arrive as sent, the threshold and the option that
// turn it off, and the close codes of bad compressed messages.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "TestNode.h"
#include "WsClient.h"
#include "switchboard/protocol/Payload.h"
#include "transport/PerMessageDeflate.h"

namespace compression_test {  // this suite's own names: the sanitizer builds compile suites together

using namespace switchboard;
using namespace switchboard::test;
using nlohmann::json;

namespace {

WsClient::Options deflating() {
  WsClient::Options options;
  options.deflate = true;
  return options;
}

// A chat message of some length, as text that compresses as such messages do.
std::string chat_text(std::size_t size) {
  std::string text;
  for (int i = 0; text.size() < size; ++i) text += "message " + std::to_string(i) + " from the lobby; ";
  return text.substr(0, size);
}

// `text` compressed as permessage-deflate has it (by the node's compressor).
protocol::Payload deflate_frame_of(const std::string& text) {
  auto deflated = server::deflate_frame(protocol::make_payload(text));
  if (!deflated.frame) throw std::runtime_error("does not compress");
  return deflated.frame;
}

// A client frame (masked) of `payload` with RSV1 set: a compressed message.
std::string compressed_frame(std::uint8_t opcode, const std::string& payload) {
  std::string frame = WsClient::encode_frame(opcode, payload);
  frame[0] = static_cast<char>(frame[0] | 0x40);
  return frame;
}

}  // namespace

TEST(Compression, NegotiatedWhenOfferedAndMessagesCrossBothWaysAsSent) {
  TestNode node;
  WsClient compressing(node.port(), deflating());
  WsClient other_compressing(node.port(), deflating());
  WsClient plain(node.port());
  EXPECT_EQ(compressing.handshake_response().header("Sec-WebSocket-Extensions"),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
  EXPECT_EQ(plain.handshake_response().header("Sec-WebSocket-Extensions"), "");
  for (WsClient* client : {&compressing, &other_compressing, &plain})
    ASSERT_EQ(client->request({{"op", "subscribe"}, {"room", "lobby"}})["ok"], true);

  // Beast's client compresses every message it sends: the node inflates them.
  const std::uint64_t received_before = node.metrics().deflated_messages_received.load();
  const std::string text = chat_text(8000);
  ASSERT_EQ(compressing.request({{"op", "publish"}, {"room", "lobby"}, {"data", text}})["ok"], true);
  EXPECT_GT(node.metrics().deflated_messages_received.load(), received_before);
  // A large message goes compressed to both clients that negotiated it, plain to the other; all
  // three read the same text.
  for (WsClient* client : {&compressing, &other_compressing, &plain}) EXPECT_EQ(client->read_json()["data"], text);
  // Written compressed: counted once the socket took it.
  EXPECT_TRUE(eventually([&] { return node.metrics().deflated_frames_sent.load() == 2; }))
      << node.metrics().deflated_frames_sent.load();
  EXPECT_GT(node.metrics().deflate_bytes_saved.load(), 2 * 6000u);

  // Binary data, both ways compressed.
  std::string bytes(20000, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 7) % 61);
  other_compressing.send_binary("{\"op\":\"publish\",\"room\":\"lobby\"}\n" + bytes);
  for (WsClient* client : {&compressing, &other_compressing, &plain}) {
    Frame pushed = client->read_frame();
    EXPECT_FALSE(pushed.text);
    EXPECT_EQ(pushed.data.substr(pushed.data.find('\n') + 1), bytes);
  }
  EXPECT_TRUE(eventually([&] { return node.metrics().deflated_frames_sent.load() == 4; }));

  // Short messages (below --deflate-threshold) go as they are.
  ASSERT_EQ(plain.request({{"op", "publish"}, {"room", "lobby"}, {"data", "hi"}})["ok"], true);
  for (WsClient* client : {&compressing, &other_compressing, &plain}) EXPECT_EQ(client->read_json()["data"], "hi");
  EXPECT_EQ(node.metrics().deflated_frames_sent.load(), 4u);
  for (WsClient* client : {&compressing, &other_compressing, &plain}) EXPECT_EQ(client->close().code, 1000);
}

TEST(Compression, TheThresholdAndTheOptionThatTurnsItOff) {
  const std::string text = chat_text(4000);
  for (const bool off : {true, false}) {
    SCOPED_TRACE(off ? "--deflate=false" : "--deflate-threshold 5000");
    auto config = TestNode::default_config();
    if (off) config.deflate = false;
    else config.deflate_threshold = 5000;
    TestNode node(config);
    WsClient client(node.port(), deflating());
    EXPECT_EQ(client.handshake_response().header("Sec-WebSocket-Extensions").empty(), off);
    ASSERT_EQ(client.request({{"op", "subscribe"}, {"room", "lobby"}})["ok"], true);
    ASSERT_EQ(client.request({{"op", "publish"}, {"room", "lobby"}, {"data", text}})["ok"], true);
    EXPECT_EQ(client.read_json()["data"], text);
    EXPECT_EQ(node.metrics().deflated_frames_sent.load(), 0u);
    // With it on, what the client sends compressed is still taken whatever its size.
    EXPECT_EQ(node.metrics().deflated_messages_received.load() > 0, !off);
  }
}

TEST(Compression, BadCompressedMessagesCloseWithTheirCodes) {
  auto config = TestNode::default_config();
  config.max_message_size = 16 * 1024;
  TestNode node(config);
  struct Case {
    const char* what;
    std::string frame;
    std::uint16_t code;
  };
  const std::string bomb = *deflate_frame_of(std::string(1 << 20, 'a'));
  const Case cases[] = {
      {"not a deflate stream", compressed_frame(1, std::string("\xff\xff\xff\xff\xff", 5)), 1007},
      {"text that inflates to bytes not UTF-8", compressed_frame(1, *deflate_frame_of(std::string(2000, '\xff'))), 1007},
      {"a message that inflates past --max-message-size", compressed_frame(2, bomb), 1009},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    ASSERT_LT(c.frame.size(), config.max_message_size);
    WsClient client(node.port(), deflating());
    client.send_raw_bytes(c.frame);
    EXPECT_EQ(client.read_until_closed().code, c.code);
  }
  // Not negotiated, a compressed frame breaks the protocol.
  WsClient plain(node.port());
  plain.send_raw_bytes(compressed_frame(1, *deflate_frame_of(chat_text(2000))));
  EXPECT_EQ(plain.read_until_closed().code, 1002);
  // The node goes on serving.
  WsClient after(node.port(), deflating());
  EXPECT_EQ(after.request({{"op", "subscribe"}, {"room", "lobby"}})["ok"], true);
}

}  // namespace compression_test
