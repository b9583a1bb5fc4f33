// Where a node without --static-dir finds the web client's files: beside its executable's
// directory, as `cmake --install` lays them out; in a build tree, the link the build made there
// to the source's web-client/ (this test executable sits one level below the build's root, as
// the node's does).
#include <gtest/gtest.h>

#include <filesystem>

#include "StaticDir.h"

using switchboard::server::default_static_dir;

TEST(StaticDir, IsShareSwitchboardWebClientBesideTheExecutablesDirectory) {
  const std::filesystem::path dir = default_static_dir();
  EXPECT_TRUE(dir.is_absolute()) << dir;
  EXPECT_EQ(dir.filename(), "web-client");
  EXPECT_EQ(dir.parent_path().filename(), "switchboard");
  EXPECT_EQ(dir.parent_path().parent_path().filename(), "share");
  const auto executable = std::filesystem::read_symlink("/proc/self/exe");
  EXPECT_EQ(dir.parent_path().parent_path().parent_path(), executable.parent_path().parent_path());
}

TEST(StaticDir, ABuildTreeFindsTheDemoAndTheClientModule) {
  const std::filesystem::path dir = default_static_dir();
  EXPECT_TRUE(std::filesystem::is_regular_file(dir / "demo" / "index.html")) << dir;
  EXPECT_TRUE(std::filesystem::is_regular_file(dir / "switchboard.js")) << dir;
}
