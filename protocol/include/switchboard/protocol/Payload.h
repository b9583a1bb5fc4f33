#pragma once
#include <memory>
#include <string>

namespace switchboard::protocol {

// One serialized frame, built once and shared by every connection that sends it.
using Payload = std::shared_ptr<const std::string>;

inline Payload make_payload(std::string text) {
  return std::make_shared<const std::string>(std::move(text));
}

}  // namespace switchboard::protocol
