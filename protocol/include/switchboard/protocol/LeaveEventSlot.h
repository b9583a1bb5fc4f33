#pragma once
// A leave event written around its user's info, for a store that keeps the info and publishes the
// event itself (a cluster's Redis script, which reads the info where the user's first connection
// left it): head + info + tail is presence_event(leave, room, user, info), for the info's JSON
// text. The store moves bytes only; the event is written here (Messages.h).
#include <string>
#include <string_view>

#include "switchboard/protocol/Messages.h"

namespace switchboard::protocol {

struct LeaveEventSlot {
  std::string head;
  std::string tail;
};

inline LeaveEventSlot leave_event_slot(std::string_view room, std::string_view user) {
  // The event with a null info ends with `null}`: the info takes the null's place.
  std::string event = *presence_event(PresenceEventType::leave, room, user, nullptr);
  auto at = event.rfind("null");
  return {event.substr(0, at), event.substr(at + 4)};
}

}  // namespace switchboard::protocol
