#include "switchboard/protocol/BinaryData.h"

#include <openssl/evp.h>

#include <climits>

namespace switchboard::protocol {

namespace {

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

std::string encode_base64(std::string_view bytes) {
  std::string out((bytes.size() + 2) / 3 * 4 + 1, '\0');  // EVP_EncodeBlock ends it with a NUL
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// The bytes of standard, padded base64; nullopt when `text` is not such. `canonical` also refuses
// text whose last character carries bits that encoding those bytes would have left zero.
std::optional<std::string> decode_base64(std::string_view text, bool canonical) {
  if (text.size() % 4 != 0 || text.size() > static_cast<std::size_t>(INT_MAX / 2)) return std::nullopt;
  std::size_t pad = 0;
  if (text.ends_with("==")) pad = 2;
  else if (text.ends_with('=')) pad = 1;
  for (std::size_t i = 0; i < text.size() - pad; ++i)
    if (!is_base64_char(text[i])) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  if (!text.empty()) {
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (n < 0 || static_cast<std::size_t>(n) != out.size()) return std::nullopt;
  }
  out.resize(out.size() - pad);  // EVP_DecodeBlock counts the padding's zero bytes
  if (canonical && encode_base64(out) != text) return std::nullopt;
  return out;
}

constexpr std::string_view kMessageStart = R"({"type":"message","room":")";
constexpr std::string_view kBinaryDataMember = R"(,"data":{"$binary":")";

}  // namespace

std::optional<std::string> binary_data_problem(std::string_view data) {
  const std::string_view problem =
      R"(binary data is written exactly {"$binary":"<standard base64 with padding>"}, with nothing else in the object)";
  if (!data.starts_with(kBinaryDataPrefix) || data.size() < kBinaryDataPrefix.size() + 2 || !data.ends_with("\"}"))
    return std::string(problem);
  std::string_view text = data.substr(kBinaryDataPrefix.size(), data.size() - kBinaryDataPrefix.size() - 2);
  if (text.find('"') != std::string_view::npos || !decode_base64(text, true)) return std::string(problem);
  return std::nullopt;
}

std::string binary_data(std::string_view bytes) {
  std::string out(kBinaryDataPrefix);
  out += encode_base64(bytes);
  out += "\"}";
  return out;
}

Payload binary_frame_of(std::string_view push) {
  // {"type":"message","room":"<room>","data":{"$binary":"<base64>"},"from":…,"offset":N}: the
  // fields come in this order, and a room name has neither quotes nor escapes.
  if (!push.starts_with(kMessageStart)) return nullptr;
  const std::size_t room_end = push.find('"', kMessageStart.size());
  if (room_end == std::string_view::npos || push.substr(room_end + 1, kBinaryDataMember.size()) != kBinaryDataMember)
    return nullptr;
  const std::size_t begin = room_end + 1 + kBinaryDataMember.size();
  const std::size_t end = push.find('"', begin);
  if (end == std::string_view::npos || push.substr(end, 2) != "\"}") return nullptr;
  // Checked when it was published: decoded without the canonical form's second look.
  auto bytes = decode_base64(push.substr(begin, end - begin), false);
  if (!bytes) return nullptr;
  std::string frame;
  frame.reserve(push.size() - (end + 2 - room_end - 1) + 1 + bytes->size());
  frame.append(push.substr(0, room_end + 1));  // {"type":"message","room":"<room>"
  frame.append(push.substr(end + 2));          // ,"from":…,"offset":N}
  frame += '\n';
  frame += *bytes;
  return make_payload(std::move(frame));
}

}  // namespace switchboard::protocol
