// Any frame a client sends goes through parse_command (a binary one through
// parse_binary_command); any body a backend posts through parse_publish_body; any Last-Event-ID a Server-Sent Events client sends through
// parse_event_id. None may crash, leak or hit undefined behaviour, and what they accept must
// serialize back (an event id to one that reads the same; a push holding published data to
// valid JSON; a publish of bytes to a binary frame that carries those bytes). JsonText, which checks every frame, must refuse nothing nlohmann accepts.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "switchboard/protocol/BinaryData.h"
#include "switchboard/protocol/EventId.h"
#include "switchboard/protocol/JsonText.h"
#include "switchboard/protocol/Messages.h"
#include "switchboard/protocol/Command.h"

namespace sp = switchboard::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = sp::parse_command(text);
  if (auto* req = std::get_if<sp::Command>(&parsed)) {
    if (req->op == sp::Op::publish) {
      auto push = sp::with_offset(*sp::message_push(req->room, req->data, "fuzz"), 1);
      if (sp::JsonText::scan(push, 65).status != sp::JsonText::Status::ok) std::abort();
      // Binary data accepted is binary data delivered: a WebSocket gets a binary frame of it.
      if (sp::is_binary_data(req->data) && !sp::binary_frame_of(push)) std::abort();
    }
    if (req->since) (void)sp::subscribe_reply(req->id, *req->since, true);
    (void)sp::ok_reply(req->id);
  } else {
    auto& err = std::get<sp::CommandError>(parsed);
    (void)sp::error_reply(err.id, err.code, err.message);
  }
  auto binary = sp::parse_binary_command(text);
  if (auto* req = std::get_if<sp::Command>(&binary)) {
    // The bytes after the header's newline reach WebSocket subscribers as they were sent.
    auto frame = sp::binary_frame_of(sp::with_offset(*sp::message_push(req->room, req->data, "fuzz"), 1));
    auto bytes = text.substr(text.find('\n') + 1);
    if (!frame || frame->size() < bytes.size() || frame->compare(frame->size() - bytes.size(), bytes.size(), bytes) != 0 ||
        (*frame)[frame->size() - bytes.size() - 1] != '\n')
      std::abort();
  }
  auto body = sp::parse_publish_body(text);
  if (auto* b = std::get_if<sp::PublishBody>(&body)) {
    if (sp::JsonText::scan(*sp::message_push(b->room, b->data, "fuzz"), 65).status != sp::JsonText::Status::ok)
      std::abort();
  }
  // Within the depth limit, whatever nlohmann accepts JsonText accepts too (JsonText takes more:
  // numbers beyond a double's range). nlohmann stops at a NUL byte and skips a byte order mark.
  if (text.find('\0') == std::string_view::npos && text.substr(0, 3) != "\xEF\xBB\xBF" &&
      sp::JsonText::scan(text, 64).status == sp::JsonText::Status::bad_syntax && nlohmann::json::accept(text))
    std::abort();
  if (auto positions = sp::parse_event_id(text)) {
    auto again = sp::parse_event_id(sp::format_event_id(*positions));
    if (!again || again->size() != positions->size()) std::abort();
    for (std::size_t i = 0; i < again->size(); ++i)
      if ((*again)[i].first != (*positions)[i].first || (*again)[i].second.offset != (*positions)[i].second.offset ||
          (*again)[i].second.epoch != (*positions)[i].second.epoch)
        std::abort();
  }
  return 0;
}
