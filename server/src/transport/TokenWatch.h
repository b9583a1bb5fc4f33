#pragma once
// The expiry watch of a connection's token: asks for a new token a minute before "exp" (halfway
// there for shorter-lived tokens), and gives up on it at "exp" plus the leeway. Used on the
// connection's thread only; each start() replaces what was scheduled before.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

namespace switchboard::server {

class TokenWatch {
 public:
  struct Handlers {
    std::function<void(std::int64_t exp)> refresh;  // push a refresh request (exp in unix seconds)
    std::function<void()> expire;                   // no new token came: close the connection
  };

  // `owner` is kept alive while a wait is pending. No `expires_at`: nothing is scheduled.
  void start(const boost::asio::any_io_executor& executor, std::optional<std::chrono::system_clock::time_point> expires_at,
             std::chrono::seconds leeway, std::shared_ptr<void> owner, Handlers handlers);
  void cancel();

 private:
  void arm(std::chrono::system_clock::time_point at, std::shared_ptr<void> owner);
  void on_timer(unsigned generation, std::shared_ptr<void> owner);

  // Only for connections whose token expires: most idle connections keep 16 bytes here.
  struct State {
    explicit State(const boost::asio::any_io_executor& executor) : timer(executor) {}
    boost::asio::steady_timer timer;
    Handlers handlers;
    std::chrono::system_clock::time_point expires_at;
    std::chrono::seconds leeway{};
    bool refresh_pushed = false;
  };
  std::unique_ptr<State> state_;
  unsigned generation_ = 0;  // bumped by each start: older waits are stale
};

}  // namespace switchboard::server
