// FrameReader: the frames a client sends, from bytes in any pieces — headers, masks, lengths of
// every size, fragments with control frames between them, the message size limit, UTF-8 — and
// the close code each breach of the protocol earns.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "switchboard/protocol/Payload.h"
#include "transport/FrameReader.h"
#include "transport/PerMessageDeflate.h"

using switchboard::server::FrameReader;
using Kind = FrameReader::Kind;
using Status = FrameReader::Status;

namespace {

// A client frame: FIN, RSV bits, opcode, masked (with a mask that changes every byte) unless not.
std::string frame(int opcode, const std::string& payload, bool fin = true, bool masked = true, int rsv = 0) {
  std::string out;
  out += static_cast<char>((fin ? 0x80 : 0) | (rsv << 4) | opcode);
  const char mask_bit = masked ? static_cast<char>(0x80) : 0;
  if (payload.size() < 126) {
    out += static_cast<char>(mask_bit | static_cast<char>(payload.size()));
  } else if (payload.size() <= 0xFFFF) {
    out += static_cast<char>(mask_bit | 126);
    out += static_cast<char>(payload.size() >> 8);
    out += static_cast<char>(payload.size() & 0xFF);
  } else {
    out += static_cast<char>(mask_bit | 127);
    for (int i = 7; i >= 0; --i) out += static_cast<char>((static_cast<std::uint64_t>(payload.size()) >> (8 * i)) & 0xFF);
  }
  const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
  if (masked) out.append(reinterpret_cast<const char*>(key), 4);
  for (std::size_t i = 0; i < payload.size(); ++i)
    out += masked ? static_cast<char>(payload[i] ^ static_cast<char>(key[i % 4])) : payload[i];
  return out;
}

std::string close_payload(std::uint16_t code, const std::string& reason = "") {
  return std::string{static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)} + reason;
}

struct Seen {
  Kind kind;
  std::string payload;
  std::uint16_t code;
  bool operator==(const Seen&) const = default;
};

// Feeds `bytes` in pieces of `piece` bytes (0: all at once); what was read, and the last status.
std::pair<std::vector<Seen>, Status> read(FrameReader& reader, std::string bytes, std::size_t piece = 0) {
  std::vector<Seen> seen;
  Status status = Status::more;
  if (piece == 0) piece = bytes.size();
  for (std::size_t at = 0; at < bytes.size() && status == Status::more; at += piece) {
    const std::size_t n = std::min(piece, bytes.size() - at);
    status = reader.consume(bytes.data() + at, n, [&](const FrameReader::Frame& f) {
      seen.push_back({f.kind, std::string(f.payload), f.close_code});
      return true;
    });
  }
  return {seen, status};
}

std::vector<Seen> expect_read(const std::string& bytes, std::size_t piece = 0, std::size_t max = 1 << 20) {
  FrameReader reader(max);
  auto [seen, status] = read(reader, bytes, piece);
  EXPECT_EQ(status, Status::more) << reader.failure().reason;
  EXPECT_EQ(reader.held(), 0u) << "memory kept after the last frame";
  return seen;
}

FrameReader::Failure expect_failure(const std::string& bytes, std::size_t max = 1 << 20, bool compressed = false) {
  for (std::size_t piece : {std::size_t{0}, std::size_t{1}}) {
    FrameReader reader(max);
    if (compressed) reader.accept_compressed();
    auto [seen, status] = read(reader, bytes, piece);
    EXPECT_EQ(status, Status::failed) << "frames read: " << seen.size() << ", first byte " << int(static_cast<unsigned char>(bytes[0])) << ", size " << bytes.size();
    if (piece == 1) {
      // Nothing more is read after a failure.
      std::string more = frame(1, "x");
      EXPECT_EQ(reader.consume(more.data(), more.size(), [](const FrameReader::Frame&) { return true; }),
                Status::failed);
      return reader.failure();
    }
  }
  return {};
}

}  // namespace

TEST(FrameReader, AWholeMessageIsHandedOnFromTheBytesItCameIn) {
  FrameReader reader(1024);
  std::string bytes = frame(1, "hello");
  const char* handed = nullptr;
  std::string text;
  EXPECT_EQ(reader.consume(bytes.data(), bytes.size(), [&](const FrameReader::Frame& f) {
    handed = f.payload.data();
    text = std::string(f.payload);
    return f.kind == Kind::text;
  }), Status::more);
  EXPECT_EQ(text, "hello");
  EXPECT_EQ(handed, bytes.data() + 6);  // unmasked in place, not copied
  EXPECT_EQ(reader.held(), 0u);
}

TEST(FrameReader, TheSameFramesFromAnyPiecesOfTheStream) {
  std::string large(70000, '\0');
  for (std::size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>(i * 31);
  const std::string medium(300, 'm');
  // "é" is split between two fragments of a text message, with a ping between them.
  const std::string stream = frame(1, "first") + frame(2, medium) + frame(1, "caf\xc3", false) + frame(9, "are you") +
                             frame(0, "", false) + frame(0, "\xa9!") + frame(2, large) + frame(10, "") +
                             frame(2, "") + frame(8, close_payload(1000, "bye"));
  const std::vector<Seen> expected{{Kind::text, "first", 0},   {Kind::binary, medium, 0},
                                   {Kind::ping, "are you", 0}, {Kind::text, "caf\xc3\xa9!", 0},
                                   {Kind::binary, large, 0},   {Kind::pong, "", 0},
                                   {Kind::binary, "", 0},      {Kind::close, "bye", 1000}};
  for (std::size_t piece : {0, 1, 2, 3, 5, 7, 64, 1000, 4096, 65536}) {
    SCOPED_TRACE(piece);
    EXPECT_EQ(expect_read(stream, piece), expected);
  }
}

TEST(FrameReader, ACloseFrameWithoutACodeSaysNoStatus) {
  EXPECT_EQ(expect_read(frame(8, "")), (std::vector<Seen>{{Kind::close, "", 1005}}));
}

TEST(FrameReader, TheHandlerStopsTheReading) {
  FrameReader reader(1024);
  std::string bytes = frame(1, "one") + frame(1, "two");
  int calls = 0;
  EXPECT_EQ(reader.consume(bytes.data(), bytes.size(), [&](const FrameReader::Frame&) { return ++calls < 1; }),
            Status::stopped);
  EXPECT_EQ(calls, 1);
}

TEST(FrameReader, EveryBreachOfTheProtocolHasItsCloseCode) {
  EXPECT_EQ(expect_failure(frame(1, "x", true, false)).code, 1002);                    // not masked
  EXPECT_EQ(expect_failure(frame(1, "x", true, true, 4)).code, 1002);                  // RSV1: no extension
  EXPECT_EQ(expect_failure(frame(3, "x")).code, 1002);                                 // reserved opcode
  EXPECT_EQ(expect_failure(frame(11, "x")).code, 1002);
  EXPECT_EQ(expect_failure(frame(0, "x")).code, 1002);                                 // continuation of nothing
  EXPECT_EQ(expect_failure(frame(1, "a", false) + frame(2, "b")).code, 1002);          // a message inside one
  EXPECT_EQ(expect_failure(frame(9, "x", false)).code, 1002);                          // fragmented control
  EXPECT_EQ(expect_failure(frame(9, std::string(126, 'x'))).code, 1002);               // control too long
  EXPECT_EQ(expect_failure(frame(8, "x")).code, 1002);                                 // close of one byte
  EXPECT_EQ(expect_failure(frame(8, close_payload(1005))).code, 1002);                 // a code not to send
  EXPECT_EQ(expect_failure(frame(8, close_payload(999))).code, 1002);
  EXPECT_EQ(expect_failure(frame(8, close_payload(1000, "\xff"))).code, 1007);         // reason not UTF-8
  EXPECT_EQ(expect_failure(frame(1, "\xc3(")).code, 1007);                             // text not UTF-8
  EXPECT_EQ(expect_failure(frame(1, "caf\xc3", false) + frame(0, "")).code, 1007);     // cut short
  // A length with its top bit set.
  std::string huge = frame(2, "");
  huge[1] = static_cast<char>(0x80 | 127);
  huge.insert(2, std::string("\x80\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(expect_failure(huge).code, 1002);
}

TEST(FrameReader, AMessageOverTheLimitIsRefusedFromItsHeaderOn) {
  expect_read(frame(2, std::string(100, 'x')), 0, 100);
  EXPECT_EQ(expect_failure(frame(2, std::string(101, 'x')), 100).code, 1009);
  // Fragments add up; control frames between them do not count.
  expect_read(frame(2, std::string(60, 'x'), false) + frame(9, std::string(100, 'p')) + frame(0, std::string(40, 'x')),
              0, 100);
  EXPECT_EQ(expect_failure(frame(2, std::string(60, 'x'), false) + frame(0, std::string(41, 'x')), 100).code, 1009);
  // Refused at the header: a frame that announces too much fails before its payload comes.
  FrameReader reader(100);
  std::string header = frame(2, std::string(1000, 'x')).substr(0, 8);
  EXPECT_EQ(reader.consume(header.data(), header.size(), [](const FrameReader::Frame&) { return true; }),
            Status::failed);
  EXPECT_EQ(reader.failure().code, 1009);
}

namespace {
// `text` compressed as a client compresses a message under permessage-deflate.
std::string deflated(const std::string& text) {
  auto d = switchboard::server::deflate_frame(switchboard::protocol::make_payload(text));
  EXPECT_TRUE(d.frame) << "does not compress";
  return d.frame ? *d.frame : std::string();
}
}  // namespace

TEST(FrameReader, CompressedMessagesAreInflatedOnceCompleteWhenNegotiated) {
  const std::string text = R"({"op":"publish","room":"lobby","data":")" + std::string(3000, 'x') + "caf\xc3\xa9\"}";
  std::string bytes(2000, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i % 7);
  const std::string packed = deflated(bytes);
  // RSV1 on a message's first frame only; a ping between its fragments; plain messages between.
  const std::string stream = frame(1, deflated(text), true, true, 4) + frame(1, "plain") +
                             frame(2, packed.substr(0, 5), false, true, 4) + frame(9, "p") +
                             frame(0, packed.substr(5, 3), false) + frame(0, packed.substr(8));
  const std::vector<Seen> expected{
      {Kind::text, text, 0}, {Kind::text, "plain", 0}, {Kind::ping, "p", 0}, {Kind::binary, bytes, 0}};
  for (std::size_t piece : {0, 1, 3, 64, 4096}) {
    SCOPED_TRACE(piece);
    FrameReader reader(1 << 20);
    reader.accept_compressed();
    std::vector<Seen> seen;
    std::vector<bool> compressed;
    std::string copy = stream;
    for (std::size_t at = 0; at < copy.size(); at += piece == 0 ? copy.size() : piece) {
      const std::size_t n = piece == 0 ? copy.size() : std::min(piece, copy.size() - at);
      ASSERT_EQ(reader.consume(copy.data() + at, n, [&](const FrameReader::Frame& f) {
        seen.push_back({f.kind, std::string(f.payload), f.close_code});
        compressed.push_back(f.compressed);
        return true;
      }), Status::more) << reader.failure().reason;
    }
    EXPECT_EQ(seen, expected);
    EXPECT_EQ(compressed, (std::vector<bool>{true, false, false, true}));
    EXPECT_EQ(reader.held(), 0u);
  }
}

TEST(FrameReader, CompressedMessagesBreakingTheRulesHaveTheirCloseCodes) {
  const std::string packed = deflated(std::string(500, 'y'));
  constexpr bool kNegotiated = true;
  EXPECT_EQ(expect_failure(frame(1, packed, true, true, 4)).code, 1002);                      // not negotiated
  EXPECT_EQ(expect_failure(frame(1, "a", false, true, 4) + frame(0, "b", true, true, 4), 1 << 20, kNegotiated).code,
            1002);                                                                             // RSV1 on a continuation
  EXPECT_EQ(expect_failure(frame(9, "", true, true, 4), 1 << 20, kNegotiated).code, 1002);   // … on a control frame
  EXPECT_EQ(expect_failure(frame(1, packed, true, true, 2), 1 << 20, kNegotiated).code, 1002);  // RSV2
  EXPECT_EQ(expect_failure(frame(2, "\xff\xff\xff", true, true, 4), 1 << 20, kNegotiated).code, 1007);  // not deflate
  EXPECT_EQ(expect_failure(frame(1, deflated(std::string(300, '\xc3')), true, true, 4), 1 << 20, kNegotiated).code,
            1007);                                                                             // inflated, not UTF-8
  EXPECT_EQ(expect_failure(frame(2, packed, true, true, 4), 499, kNegotiated).code, 1009);    // inflates past the limit
}
