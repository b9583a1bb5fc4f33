#include "SoakChurn.h"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <cmath>
#include <string>

#include "Payload.h"
#include "SoakMessage.h"

namespace switchboard::bench {

namespace net = boost::asio;

SoakChurn::SoakChurn(net::io_context& ioc, Deployment& deployment, std::size_t rooms, double drop_fraction,
                     std::chrono::milliseconds hold, SoakLog& log)
    : ioc_(ioc),
      deployment_(deployment),
      rooms_(rooms),
      drop_fraction_(drop_fraction),
      hold_(hold),
      log_(log) {}

SoakChurn::Ending SoakChurn::ending_of(std::size_t i) const {
  const auto before = static_cast<std::size_t>(std::floor(static_cast<double>(i) * drop_fraction_));
  const auto after = static_cast<std::size_t>(std::floor(static_cast<double>(i + 1) * drop_fraction_));
  if (after == before) return Ending::clean;
  static constexpr Ending kinds[] = {Ending::reset, Ending::fin, Ending::reset_before_reply,
                                     Ending::reset_in_upgrade};
  return kinds[before % 4];
}

void SoakChurn::launch() {
  ++counts_.launched;
  ++in_flight_;
  const std::size_t i = index_++;
  if (ending_of(i) == Ending::reset_in_upgrade) return launch_half_upgrade();
  auto ch = std::make_shared<Churner>(ioc_);
  ch->ending = ending_of(i);
  ch->client = std::make_shared<BenchClient>(ioc_, i);
  ch->client->on_frame([this, ch](BenchClient& c, std::string_view frame) {
    if (c.subscribed || !is_subscribe_reply(frame)) return on_message(*ch, frame);
    c.subscribed = true;
    if (!ch->ended) on_subscribe_reply(ch, frame);  // else: dropped right after the subscribe
  });
  ch->client->on_closed(
      [this, ch](BenchClient& c, const boost::system::error_code& ec) { on_closed(*ch, c, ec); });
  ch->client->open(deployment_.endpoint(0),
                   [this, ch, room = i % rooms_](BenchClient& c, const boost::system::error_code& ec) {
                     on_opened(ch, room, c, ec);
                   });
}

void SoakChurn::open_failed(const boost::system::error_code& ec) {
  --in_flight_;
  ++counts_.failed_opens;
  log_.error("open: " + ec.message());
}

void SoakChurn::launch_half_upgrade() {
  auto socket = std::make_shared<net::ip::tcp::socket>(ioc_);
  socket->async_connect(deployment_.endpoint(0), [this, socket](const boost::system::error_code& ec) {
    if (ec) return open_failed(ec);
    ++counts_.opened;
    socket->set_option(net::ip::tcp::no_delay(true));
    auto request = std::make_shared<const std::string>(
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
    net::async_write(*socket, net::buffer(*request),
                     [this, socket, request](const boost::system::error_code&, std::size_t) {
                       boost::system::error_code ignored;
                       socket->set_option(net::socket_base::linger(true, 0), ignored);
                       socket->close(ignored);
                       --in_flight_;
                       ++counts_.closed;
                       ++counts_.drops[Ending::reset_in_upgrade];
                     });
  });
}

void SoakChurn::on_opened(const std::shared_ptr<Churner>& ch, std::size_t room, BenchClient& c,
                          const boost::system::error_code& ec) {
  if (ec) {
    open_failed(ec);
    c.on_frame(nullptr);
    c.on_closed(nullptr);
    ch->client.reset();
    return;
  }
  ++counts_.opened;
  c.send(subscribe_frame(SoakMessage::room_name(room)));
  if (ch->ending != Ending::reset_before_reply) return;
  ch->ended = true;
  // Once the subscribe is written (a loopback write completes at once).
  net::post(ioc_, [ch] {
    if (ch->client) ch->client->abort(true);
  });
}

void SoakChurn::on_subscribe_reply(const std::shared_ptr<Churner>& ch, std::string_view frame) {
  auto reply = parse_reply(frame);
  auto offset = SoakMessage::offset_of_reply(frame);
  if (!reply || !reply->ok || !offset) {
    log_.error("subscribe: " + std::string(frame));
    return end_connection(*ch);
  }
  ch->last = *offset;
  ch->hold.expires_after(hold_);
  ch->hold.async_wait([this, ch](const boost::system::error_code& ec) {
    if (ec || ch->ended) return;
    ++counts_.closed_without_message;
    end_connection(*ch);
  });
}

void SoakChurn::on_message(Churner& ch, std::string_view frame) {
  auto m = SoakMessage::parse(frame);
  if (!m) return void(++log_.other_frames);
  ++messages_;
  if (ch.last < 0) return log_.error("churn: message before the subscribe reply");
  if (m->offset != ch.last + 1) ++order_errors_;
  ch.last = m->offset;
  if (ch.got_message) return;
  ch.got_message = true;
  end_connection(ch);
}

void SoakChurn::on_closed(Churner& ch, BenchClient& c, const boost::system::error_code& ec) {
  --in_flight_;
  ++counts_.closed;
  ch.hold.cancel();
  if (!ch.ended) {
    ++closed_by_node_;
    log_.error("churn closed by node: " + c.close_reason(ec));
  } else if (ch.ending != Ending::clean) {
    ++counts_.drops[ch.ending];
  } else if (c.closed_cleanly(ec)) {
    ++counts_.clean_closes;
  } else {
    log_.error("churn close: " + c.close_reason(ec));
  }
  ch.client.reset();  // the handlers are cleared after this returns: nothing refers to ch then
}

void SoakChurn::end_connection(Churner& ch) {
  if (ch.ended) return;
  ch.ended = true;
  ch.hold.cancel();
  if (ch.ending == Ending::clean)
    ch.client->close();
  else
    ch.client->abort(ch.ending == Ending::reset);
}

nlohmann::ordered_json SoakChurn::drops_since(const Counts& before, std::size_t& total) const {
  nlohmann::ordered_json report = nlohmann::ordered_json::object();
  for (auto [kind, name] : {std::pair{Ending::reset, "rst"}, std::pair{Ending::fin, "fin"},
                            std::pair{Ending::reset_before_reply, "rst_before_reply"},
                            std::pair{Ending::reset_in_upgrade, "rst_in_upgrade"}}) {
    const auto now = counts_.drops.find(kind), then = before.drops.find(kind);
    const std::size_t n =
        (now == counts_.drops.end() ? 0 : now->second) - (then == before.drops.end() ? 0 : then->second);
    report[name] = n;
    total += n;
  }
  return report;
}

}  // namespace switchboard::bench
