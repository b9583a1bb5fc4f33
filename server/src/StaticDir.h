#pragma once
// Where a node started without --static-dir finds the web client's files it serves at /.
#include <string>

namespace switchboard::server {

// <the executable's directory>/../share/switchboard/web-client (the relative path the build
// was configured with): where `cmake --install` puts the files, and where a build tree links to
// its source's web-client/. "web-client" (from the working directory) when the executable's path
// cannot be read.
std::string default_static_dir();

}  // namespace switchboard::server
