// Room grants: patterns, {sub}, merging, and the shapes refused.
#include <gtest/gtest.h>

#include "switchboard/auth/JwtSigner.h"
#include "switchboard/auth/JwtVerifier.h"
#include "switchboard/auth/RoomPermissions.h"

using namespace switchboard::auth;
using nlohmann::json;

namespace {
RoomPermissions grants(const char* text, std::string_view user = "alice") {
  return RoomPermissions::parse(json::parse(text), user);
}
}  // namespace

TEST(RoomPermissions, DefaultAllowsNothingAndUnrestrictedEverything) {
  RoomPermissions none;
  EXPECT_FALSE(none.allows(RoomAction::subscribe, "a"));
  auto all = RoomPermissions::unrestricted();
  for (auto action : {RoomAction::subscribe, RoomAction::publish, RoomAction::presence})
    EXPECT_TRUE(all.allows(action, "any:room/at.all"));
}

TEST(RoomPermissions, ActionsAreSeparate) {
  auto p = grants(R"({"sub":["chat:*"],"pub":["chat:general"]})");
  EXPECT_TRUE(p.allows(RoomAction::subscribe, "chat:random"));
  EXPECT_FALSE(p.allows(RoomAction::publish, "chat:random"));
  EXPECT_TRUE(p.allows(RoomAction::publish, "chat:general"));
  EXPECT_FALSE(p.allows(RoomAction::presence, "chat:general"));
}

TEST(RoomPermissions, Wildcards) {
  auto p = grants(R"({"sub":["chat:*","*:news","a*b*c","exact"]})");
  EXPECT_TRUE(p.allows(RoomAction::subscribe, "chat:"));  // "*" may match nothing
  EXPECT_TRUE(p.allows(RoomAction::subscribe, "chat:a:b/c"));  // ":" and "/" included
  EXPECT_FALSE(p.allows(RoomAction::subscribe, "chat"));
  EXPECT_FALSE(p.allows(RoomAction::subscribe, "xchat:a"));
  EXPECT_TRUE(p.allows(RoomAction::subscribe, "sports:news"));
  EXPECT_FALSE(p.allows(RoomAction::subscribe, "sports:news2"));
  EXPECT_TRUE(p.allows(RoomAction::subscribe, "abc"));
  EXPECT_TRUE(p.allows(RoomAction::subscribe, "a-b-b-c"));
  EXPECT_FALSE(p.allows(RoomAction::subscribe, "acb"));
  EXPECT_FALSE(p.allows(RoomAction::subscribe, "ab"));
  EXPECT_TRUE(p.allows(RoomAction::subscribe, "exact"));
  EXPECT_FALSE(p.allows(RoomAction::subscribe, "exactly"));
  EXPECT_TRUE(grants(R"({"pub":["*"]})").allows(RoomAction::publish, "x"));
}

TEST(RoomPermissions, SubjectPlaceholderIsLiteral) {
  auto p = grants(R"({"sub":["user:{sub}","dm:{sub}:*","{sub}-{sub}"]})", "bob");
  EXPECT_TRUE(p.allows(RoomAction::subscribe, "user:bob"));
  EXPECT_FALSE(p.allows(RoomAction::subscribe, "user:alice"));
  EXPECT_TRUE(p.allows(RoomAction::subscribe, "dm:bob:alice"));
  EXPECT_TRUE(p.allows(RoomAction::subscribe, "bob-bob"));
  // A "*" inside a user id is matched as itself, not as a wildcard.
  auto star = grants(R"({"sub":["user:{sub}"]})", "*");
  EXPECT_FALSE(star.allows(RoomAction::subscribe, "user:alice"));
  EXPECT_TRUE(star.allows(RoomAction::subscribe, "user:*"));
}

TEST(RoomPermissions, MergeAddsGrants) {
  auto p = grants(R"({"sub":["private:{sub}"]})");
  p.merge(grants(R"({"sub":["public:*"],"presence":["public:*"]})"));
  EXPECT_TRUE(p.allows(RoomAction::subscribe, "private:alice"));
  EXPECT_TRUE(p.allows(RoomAction::subscribe, "public:x"));
  EXPECT_TRUE(p.allows(RoomAction::presence, "public:x"));
  EXPECT_FALSE(p.allows(RoomAction::publish, "public:x"));
}

TEST(RoomPermissions, MalformedGrantsAreRefused) {
  for (const char* bad : {R"([])", R"("chat:*")", R"({"sub":"chat:*"})", R"({"sub":[1]})", R"({"sub":[""]})",
                          R"({"subscribe":["x"]})", R"({"pub":[null]})"})
    EXPECT_THROW(grants(bad), std::invalid_argument) << bad;
  EXPECT_NO_THROW(grants("{}"));
}

TEST(JwtSigner, SignsTokensTheVerifierAccepts) {
  JwtKeySet keys;
  keys.add_hmac_secret("", "signer-test-secret");
  json claims = {{"sub", "alice"}, {"exp", 4102444800}, {"info", {{"name", "Ålice"}}}};
  auto token = sign_hs256("signer-test-secret", claims);
  auto result = verify_jwt(token, keys, JwtOptions{});
  ASSERT_TRUE(std::holds_alternative<JwtClaims>(result));
  EXPECT_EQ(std::get<JwtClaims>(result).payload, claims);
  JwtKeySet other;
  other.add_hmac_secret("", "another-secret");
  EXPECT_EQ(std::get<JwtError>(verify_jwt(token, other, JwtOptions{})), JwtError::bad_signature);
  EXPECT_THROW(sign_hs256("", claims), std::runtime_error);
}

TEST(JwtSigner, Base64urlHasNoPaddingAndUrlAlphabet) {
  EXPECT_EQ(detail::base64url_encode(""), "");
  EXPECT_EQ(detail::base64url_encode("f"), "Zg");
  EXPECT_EQ(detail::base64url_encode("fo"), "Zm8");
  EXPECT_EQ(detail::base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(detail::base64url_encode("\xfb\xff"), "-_8");
}
