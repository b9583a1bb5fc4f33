#include "SoakWitnesses.h"

#include "Payload.h"
#include "SoakMessage.h"

namespace switchboard::bench {

SoakWitnesses::SoakWitnesses(boost::asio::io_context& ioc, Deployment& deployment, std::size_t count,
                             std::size_t rooms, SoakLog& log)
    : deployment_(deployment), log_(log), witnesses_(count) {
  for (std::size_t i = 0; i < count; ++i) {
    witnesses_[i].room = i % rooms;
    witnesses_[i].client = std::make_shared<BenchClient>(ioc, i);
  }
}

void SoakWitnesses::open() {
  for (Witness& w : witnesses_) {
    w.client->on_frame([this, &w](BenchClient& c, std::string_view frame) {
      if (!c.subscribed && is_subscribe_reply(frame)) return on_subscribe_reply(w, c, frame);
      on_message(w, frame);
    });
    w.client->on_closed([this](BenchClient& c, const boost::system::error_code& ec) {
      if (closing_) return;
      ++unexpected_closes_;
      log_.error("witness closed: " + c.close_reason(ec));
    });
    w.client->open(deployment_.endpoint(0),
                   [this, r = w.room](BenchClient& c, const boost::system::error_code& ec) {
                     if (ec) return log_.error("witness open: " + ec.message());
                     c.send(subscribe_frame(SoakMessage::room_name(r)));
                   });
  }
}

void SoakWitnesses::on_subscribe_reply(Witness& w, BenchClient& c, std::string_view frame) {
  auto reply = parse_reply(frame);
  auto offset = SoakMessage::offset_of_reply(frame);
  if (!reply || !reply->ok || !offset) return log_.error("witness subscribe: " + std::string(frame));
  c.subscribed = true;
  w.start = w.last = *offset;
  ++subscribed_;
}

void SoakWitnesses::on_message(Witness& w, std::string_view frame) {
  auto m = SoakMessage::parse(frame);
  if (!m) return void(++log_.other_frames);
  ++w.received;
  if (m->room != w.room || m->offset < 1) return log_.error("witness: message of another room");
  if (m->offset != w.last + 1) ++w.out_of_order;
  w.last = m->offset;
  const auto off = static_cast<std::size_t>(m->offset);
  if (w.got.size() <= off) w.got.resize(off * 2, 0);
  if (w.got[off]++ > 0) ++w.duplicates;
}

std::int64_t SoakWitnesses::missing(const SoakPublisher& publisher) const {
  std::int64_t lost = 0;
  for (const Witness& w : witnesses_) {
    const auto& a = publisher.acked(w.room);
    for (std::size_t off = static_cast<std::size_t>(w.start) + 1; off < a.size(); ++off)
      if (a[off] && (off >= w.got.size() || !w.got[off])) ++lost;
  }
  return lost;
}

std::int64_t SoakWitnesses::expected(const SoakPublisher& publisher) const {
  std::int64_t n = 0;
  for (const Witness& w : witnesses_) n += publisher.acked_count(w.room);
  return n;
}

std::int64_t SoakWitnesses::sum(std::int64_t Witness::*field) const {
  std::int64_t n = 0;
  for (const Witness& w : witnesses_) n += w.*field;
  return n;
}

std::int64_t SoakWitnesses::duplicates() const { return sum(&Witness::duplicates); }
std::int64_t SoakWitnesses::out_of_order() const { return sum(&Witness::out_of_order); }
std::int64_t SoakWitnesses::received() const { return sum(&Witness::received); }

void SoakWitnesses::close() {
  closing_ = true;
  for (auto& w : witnesses_) w.client->close();
}

}  // namespace switchboard::bench
