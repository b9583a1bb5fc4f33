#include <gtest/gtest.h>

#include "switchboard/auth/OriginPolicy.h"

using switchboard::auth::OriginPolicy;

TEST(OriginPolicy, ClientsWithoutOriginPass) {
  EXPECT_TRUE(OriginPolicy().allows("", "node:8080"));
}

TEST(OriginPolicy, DefaultIsTheNodesOwnOriginOnly) {
  OriginPolicy policy;
  EXPECT_TRUE(policy.allows("http://node:8080", "node:8080"));
  EXPECT_TRUE(policy.allows("https://Node:8080", "node:8080"));
  EXPECT_FALSE(policy.allows("https://evil.example", "node:8080"));
  EXPECT_FALSE(policy.allows("http://node:8081", "node:8080"));
  EXPECT_FALSE(policy.allows("null", "node:8080"));
}

TEST(OriginPolicy, ExactAndWildcardPatterns) {
  OriginPolicy policy(" https://app.example.com , https://*.example.org ");
  EXPECT_TRUE(policy.allows("https://app.example.com", "node"));
  EXPECT_FALSE(policy.allows("http://app.example.com", "node"));  // scheme matters
  EXPECT_FALSE(policy.allows("https://app.example.com.evil.net", "node"));
  EXPECT_TRUE(policy.allows("https://a.example.org", "node"));
  EXPECT_TRUE(policy.allows("https://a.b.example.org", "node"));
  EXPECT_FALSE(policy.allows("https://example.org", "node"));  // subdomains only
  EXPECT_FALSE(policy.allows("https://evilexample.org", "node"));
  EXPECT_FALSE(policy.allows("https://a.example.org:8443", "node"));
  EXPECT_FALSE(policy.allows("https://x.com/.example.org", "node"));
}

TEST(OriginPolicy, StarAllowsAny) {
  EXPECT_TRUE(OriginPolicy("*").allows("https://anywhere.test", "node"));
}
