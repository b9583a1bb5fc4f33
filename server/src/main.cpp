// The switchboard executable: reads the configuration, builds the node's parts and runs it.
// `switchboard gentoken …` mints a token instead (see TokenCommand.h).
#include <malloc.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "ClusterParts.h"
#include "TokenCommand.h"
#include "admission/Authentication.h"
#include "switchboard/server/Config.h"
#include "switchboard/server/Log.h"
#include "switchboard/server/Server.h"

extern char** environ;

int main(int argc, char* argv[]) {
  using namespace switchboard;
  std::vector<std::string> environment;
  for (char** e = environ; *e; ++e) environment.emplace_back(*e);

  if (argc > 1 && std::strcmp(argv[1], "gentoken") == 0)
    return server::run_token_command(argc - 1, argv + 1, environment, std::cout, std::cerr);

  // A busy node frees and allocates its connections' write buffers round after round (a round
  // of 1,000 subscribers stages about 16 MiB): keep up to 64 MiB of freed heap for reuse rather
  // than hand it back to the kernel at once and fault it in again. With idle connections that
  // hold next to nothing, the freed rounds lie at the top of the heap, and a 16 MiB threshold
  // cost fan-out 2.7 times its CPU per delivery. MALLOC_TRIM_THRESHOLD_ set by the operator wins.
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (!std::getenv("MALLOC_TRIM_THRESHOLD_") && !(tunables && std::strstr(tunables, "trim_threshold")))
    mallopt(M_TRIM_THRESHOLD, 64 << 20);

  auto loaded = server::load_config(argc, argv, environment);
  if (!loaded.config) {
    (loaded.exit_code == 0 ? std::cout : std::cerr) << loaded.message;
    return loaded.exit_code;
  }
  server::Config config = std::move(*loaded.config);
  server::log::set_level(config.log_level);
  server::log::set_format(config.log_format);

  try {
    server::apply_dev_mode(config);
    auto authenticator = server::make_authenticator(config);
    // Without a cluster configured, the node runs alone on the embedded broker and presence store.
    auto parts = server::make_cluster_parts(config);
    server::Server node(std::move(config), std::move(authenticator), std::move(parts.broker), std::move(parts.presence),
                        std::move(parts.control));
    node.start();
    // The shutdown is bounded (drain, then 2 s for close handshakes): the node keeps catching
    // signals until it is destroyed, so that a second one cannot cut it short.
    int signal = node.wait_for_signal();
    server::log::info("signal " + std::to_string(signal) + " received, shutting down");
    // SIGTERM (an orchestrator, a rolling restart) drains first; Ctrl-C stops at once.
    node.stop(std::chrono::seconds(2), signal == SIGTERM ? node.config().drain_delay : std::chrono::milliseconds(0));
  } catch (const std::exception& e) {
    server::log::error(std::string("cannot run: ") + e.what());
    return 1;
  }
  return 0;
}
