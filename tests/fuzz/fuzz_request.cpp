// Any frame a client sends goes through parse_request; any body a backend posts through
// parse_publish_body. Neither may crash, leak or hit undefined behaviour, and what they accept
// must serialize back.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "switchboard/protocol/Messages.h"
#include "switchboard/protocol/Request.h"

namespace sp = switchboard::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = sp::parse_request(text);
  if (auto* req = std::get_if<sp::Request>(&parsed)) {
    if (req->op == sp::Op::publish) {
      auto push = sp::message_push(req->room, req->data, "fuzz");
      (void)sp::with_offset(*push, 1);
    }
    if (req->since) (void)sp::subscribe_reply(req->id, *req->since, true);
    (void)sp::ok_reply(req->id);
  } else {
    auto& err = std::get<sp::RequestError>(parsed);
    (void)sp::error_reply(err.id, err.code, err.message);
  }
  (void)sp::parse_publish_body(text);
  return 0;
}
