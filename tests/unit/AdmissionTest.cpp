// The checks of a WebSocket handshake or SSE stream (Admission) and the place it takes among the
// node's connections (ConnectionSlot), without a node.
#include <gtest/gtest.h>

#include <chrono>

#include "admission/Admission.h"
#include "switchboard/auth/JwtAuthenticator.h"
#include "switchboard/auth/JwtSigner.h"

namespace ss = switchboard::server;
namespace sa = switchboard::auth;
namespace http = boost::beast::http;

namespace {
constexpr const char* kSecret = "admission-test-secret-0123456789abcdef";

sa::JwtAuthenticator make_authenticator() {
  sa::JwtKeySet keys;
  keys.add_hmac_secret("", kSecret);
  return sa::JwtAuthenticator(std::move(keys), sa::JwtOptions{});
}

ss::HttpRequest request(bool with_token) {
  std::string target = "/ws";
  if (with_token) {
    auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
    target += "?token=" + sa::sign_hs256(kSecret, {{"sub", "ann"}, {"exp", (now + std::chrono::hours(1)).count()}});
  }
  return ss::HttpRequest(http::verb::get, target, 11);
}

struct Fixture {
  sa::JwtAuthenticator authenticator = make_authenticator();
  ss::KeyedRateLimiter handshakes{0, 0};
  std::shared_ptr<ss::ConnectionSlot::Count> count = std::make_shared<ss::ConnectionSlot::Count>(0);
  ss::Admission admission{handshakes, count, 2, authenticator};
};
}  // namespace

TEST(Admission, AnAdmittedConnectionHoldsItsPlaceUntilItsSlotGoes) {
  Fixture f;
  auto first = f.admission.admit(request(true), "10.0.0.1", false);
  ASSERT_TRUE(std::holds_alternative<ss::Admission::Admitted>(first));
  EXPECT_EQ(std::get<ss::Admission::Admitted>(first).identity.user, "ann");
  EXPECT_EQ(f.count->load(), 1u);
  {
    auto second = f.admission.admit(request(true), "10.0.0.1", false);
    ASSERT_TRUE(std::holds_alternative<ss::Admission::Admitted>(second));
    EXPECT_EQ(f.count->load(), 2u);
    // Full: refused, and the probe says so, without either taking a place.
    auto third = f.admission.admit(request(true), "10.0.0.1", false);
    ASSERT_TRUE(std::holds_alternative<ss::Admission::Refusal>(third));
    EXPECT_EQ(std::get<ss::Admission::Refusal>(third).code, "too_many_connections");
    EXPECT_EQ(std::get<ss::Admission::Refusal>(third).status, http::status::service_unavailable);
    auto probed = f.admission.probe(request(true), "10.0.0.1", false);
    ASSERT_TRUE(probed);
    EXPECT_EQ(probed->code, "too_many_connections");
    EXPECT_EQ(f.count->load(), 2u);
  }
  EXPECT_EQ(f.count->load(), 1u);  // the second slot went with it
  // A slot moved into its session keeps the place; the moved-from one gives nothing back.
  auto slot = std::move(std::get<ss::Admission::Admitted>(first).slot);
  EXPECT_EQ(f.count->load(), 1u);
  EXPECT_FALSE(f.admission.probe(request(true), "10.0.0.1", false));
}

TEST(Admission, ARefusedTokenGivesThePlaceBackAtOnce) {
  Fixture f;
  auto refused = f.admission.admit(request(false), "10.0.0.1", false);
  ASSERT_TRUE(std::holds_alternative<ss::Admission::Refusal>(refused));
  EXPECT_EQ(std::get<ss::Admission::Refusal>(refused).status, http::status::unauthorized);
  EXPECT_EQ(f.count->load(), 0u);
  auto probed = f.admission.probe(request(false), "10.0.0.1", false);
  ASSERT_TRUE(probed);
  EXPECT_EQ(probed->status, http::status::unauthorized);
}

TEST(Admission, ADrainingNodeAndAFastAddressAreRefusedBeforeTheToken) {
  Fixture f;
  auto draining = f.admission.admit(request(true), "10.0.0.1", true);
  ASSERT_TRUE(std::holds_alternative<ss::Admission::Refusal>(draining));
  EXPECT_EQ(std::get<ss::Admission::Refusal>(draining).code, "draining");
  EXPECT_EQ(f.admission.probe(request(true), "10.0.0.1", true)->code, "draining");

  ss::KeyedRateLimiter one_per_second(1, 1);
  ss::Admission limited(one_per_second, f.count, 2, f.authenticator);
  EXPECT_FALSE(limited.probe(request(true), "10.0.0.2", false));  // the probe costs a handshake too
  auto refused = limited.admit(request(true), "10.0.0.2", false);
  ASSERT_TRUE(std::holds_alternative<ss::Admission::Refusal>(refused));
  EXPECT_EQ(std::get<ss::Admission::Refusal>(refused).code, "rate_limited");
  EXPECT_EQ(std::get<ss::Admission::Refusal>(refused).status, http::status::too_many_requests);
  EXPECT_EQ(f.count->load(), 0u);
}
