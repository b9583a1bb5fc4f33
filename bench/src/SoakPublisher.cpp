#include "SoakPublisher.h"

#include <algorithm>
#include <charconv>

#include "Payload.h"
#include "SoakMessage.h"

namespace switchboard::bench {

SoakPublisher::SoakPublisher(boost::asio::io_context& ioc, Deployment& deployment, std::size_t index,
                             std::size_t rooms, std::size_t payload, SoakLog& log)
    : deployment_(deployment),
      log_(log),
      rooms_(rooms),
      payload_(payload),
      client_(std::make_shared<BenchClient>(ioc, index)),
      acked_(rooms),
      acked_count_(rooms, 0),
      acked_max_(rooms, 0) {}

void SoakPublisher::open() {
  client_->on_frame([this](BenchClient&, std::string_view frame) { on_frame(frame); });
  client_->on_closed([this](BenchClient& c, const boost::system::error_code& ec) {
    if (closing_) return;
    closed_by_node_ = true;
    log_.error("publisher closed: " + c.close_reason(ec));
  });
  client_->open(deployment_.endpoint(0), [this](BenchClient&, const boost::system::error_code& ec) {
    if (ec) return log_.error("publisher open: " + ec.message());
    open_ = true;
  });
}

void SoakPublisher::publish_up_to(std::int64_t due) {
  while (sent_ < due) {
    ++sent_;
    const auto r = static_cast<std::uint32_t>(static_cast<std::size_t>(sent_) % rooms_);
    room_of_seq_.push_back(r);
    client_->send(publish_frame(SoakMessage::room_name(r), sent_, now_ns(), payload_));
  }
}

void SoakPublisher::on_frame(std::string_view frame) {
  auto reply = parse_reply(frame);
  if (!reply) return void(++log_.other_frames);
  std::int64_t seq = 0;
  std::from_chars(reply->id.data(), reply->id.data() + reply->id.size(), seq);
  if (seq < 1 || seq > sent_) return log_.error("publisher: reply with an unknown id: " + std::string(frame));
  auto offset = SoakMessage::offset_of_reply(frame);
  if (!reply->ok || !offset || *offset < 1) {
    ++errors_;
    return log_.error("publish: " + std::string(frame));
  }
  ++acks_;
  record_ack(room_of_seq_[static_cast<std::size_t>(seq)], *offset);
}

void SoakPublisher::record_ack(std::size_t r, std::int64_t offset) {
  auto& a = acked_[r];
  const auto off = static_cast<std::size_t>(offset);
  if (a.size() <= off) a.resize(off * 2, 0);
  if (a[off]++ > 0) return void(++offset_duplicates_);
  ++acked_count_[r];
  acked_max_[r] = std::max(acked_max_[r], offset);
}

void SoakPublisher::close() {
  closing_ = true;
  client_->close();
}

std::int64_t SoakPublisher::acked_total() const {
  std::int64_t n = 0;
  for (auto count : acked_count_) n += count;
  return n;
}

std::int64_t SoakPublisher::offset_holes() const {
  std::int64_t n = 0;
  for (std::size_t r = 0; r < rooms_; ++r) n += acked_max_[r] - acked_count_[r];
  return n;
}

}  // namespace switchboard::bench
