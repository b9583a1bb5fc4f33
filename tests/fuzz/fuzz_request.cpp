// Any frame a client sends goes through parse_command; any body a backend posts through
// parse_publish_body; any Last-Event-ID a Server-Sent Events client sends through
// parse_event_id. None may crash, leak or hit undefined behaviour, and what they accept must
// serialize back (an event id to one that reads the same; a push holding published data to
// valid JSON). JsonText, which checks every frame, must refuse nothing nlohmann accepts.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include <cstdlib>

#include <nlohmann/json.hpp>

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
      auto push = sp::message_push(req->room, req->data, "fuzz");
      if (sp::JsonText::scan(sp::with_offset(*push, 1), 65).status != sp::JsonText::Status::ok) std::abort();
    }
    if (req->since) (void)sp::subscribe_reply(req->id, *req->since, true);
    (void)sp::ok_reply(req->id);
  } else {
    auto& err = std::get<sp::CommandError>(parsed);
    (void)sp::error_reply(err.id, err.code, err.message);
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
