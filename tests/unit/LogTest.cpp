#include "switchboard/server/Log.h"

#include <gtest/gtest.h>

using switchboard::server::log::escape;

TEST(Log, TheTextFormatEscapesControlCharactersAndTheBackslash) {
  EXPECT_EQ(escape("room chat:lobby, user alice"), "room chat:lobby, user alice");
  EXPECT_EQ(escape("eve\n2026-01-01T00:00:00.000Z error FORGED"), "eve\\x0A2026-01-01T00:00:00.000Z error FORGED");
  EXPECT_EQ(escape(std::string("a\0b\r\t\x1b[31m\x7f", 11)), "a\\x00b\\x0D\\x09\\x1B[31m\\x7F");
  // The backslash too, so that "\x0A" in a log always was a newline: unambiguous to read back.
  EXPECT_EQ(escape("C:\\x0A"), "C:\\x5Cx0A");
  EXPECT_EQ(escape("Zoë 東京"), "Zoë 東京");  // UTF-8 as is
}
