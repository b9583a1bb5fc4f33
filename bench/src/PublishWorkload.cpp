#include "PublishWorkload.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

#include "Figures.h"
#include "SoakMessage.h"

namespace switchboard::bench {

namespace {

std::optional<std::size_t> number_in(std::string_view text) {
  std::size_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
}

}  // namespace

PublishWorkload::PublishWorkload(Deployment& deployment, const Params& params)
    : deployment_(deployment), p_(params), traffic_(ioc_, deployment), pubs_(params.publishers), rooms_(params.rooms) {}

nlohmann::ordered_json PublishWorkload::measure() {
  nlohmann::ordered_json out;
  if (p_.publishers == 0 || p_.rooms < p_.publishers)
    return {{"error", "--publish-rooms must be at least --publish-publishers (and that at least 1)"}};
  // Where each room lives: its hash tag's slot and the master serving it.
  masters_ = std::max<std::size_t>(1, deployment_.redis_masters());
  acked_per_master_.assign(masters_, 0);
  std::vector<std::size_t> rooms_per_master(masters_, 0);
  for (std::size_t r = 0; r < rooms_.size(); ++r) {
    rooms_[r].master = deployment_.redis_master_of_room(room_name(r));
    ++rooms_per_master[rooms_[r].master];
  }
  out["redis_masters"] = deployment_.redis_masters();
  out["rooms_per_master"] = rooms_per_master;

  open_clients();
  if (!traffic_.ready(out)) return out;
  for (std::size_t k = 0; k < pubs_.size(); ++k) pump(k);
  ClientFleet::run_for(ioc_, to_ms(p_.warmup_seconds));

  // The measured seconds: what was acknowledged between the two readings, and the CPU spent.
  const std::size_t acked_before = acked_total();
  const auto per_master_before = acked_per_master_;
  CpuMeter cpu(deployment_);
  const auto started = Clock::now();
  ClientFleet::run_for(ioc_, to_ms(p_.seconds));
  cpu.stop();
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  measured_publishes_ = acked_total() - acked_before;
  measured_per_master_.assign(masters_, 0);
  for (std::size_t m = 0; m < masters_; ++m) measured_per_master_[m] = acked_per_master_[m] - per_master_before[m];

  // Then every publish answered and every acknowledged message delivered (or 10 s).
  stopping_ = true;
  ClientFleet::run_until(
      ioc_,
      [&] {
        if (!deployment_.alive()) return true;
        for (const auto& pb : pubs_)
          if (pb.answered < pb.sent || pb.delivered + pb.refused < pb.sent) return false;
        return true;
      },
      std::chrono::seconds(10));
  // Whatever still arrives (duplicates, stragglers) within a moment counts too.
  ClientFleet::run_for(ioc_, std::chrono::milliseconds(300));
  report(out, cpu, elapsed);
  traffic_.close_all();
  return out;
}

void PublishWorkload::open_clients() {
  Traffic::Subscribers subscribers;
  subscribers.count = p_.rooms;
  subscribers.room_of = [](std::size_t i) { return room_name(i); };
  subscribers.on_delivery = [&](BenchClient&, const Delivery& d) { on_delivery(d); };
  traffic_.open_subscribers(subscribers);
  traffic_.open_publishers(p_.publishers, [&](const Reply& r) { on_reply(r); });
}

void PublishWorkload::pump(std::size_t k) {
  auto& me = pubs_[k];
  const std::size_t owned = (p_.rooms + p_.publishers - 1 - k) / p_.publishers;
  while (!stopping_ && me.sent < me.answered + p_.window && me.sent < me.delivered + me.refused + p_.window) {
    const std::size_t r = k + (me.turn++ % owned) * p_.publishers;
    auto& room = rooms_[r];
    const std::int64_t seq = ++room.sent;
    room.acked.resize(static_cast<std::size_t>(seq) + 1, 0);
    // The id names the room and the seq: id - 1 = (seq - 1) · rooms + r.
    const auto id = static_cast<std::int64_t>((static_cast<std::size_t>(seq) - 1) * p_.rooms + r + 1);
    traffic_.publishers().clients()[k]->send(publish_frame(room_name(r), seq, now_ns(), p_.payload_bytes, id));
    ++me.sent;
  }
}

void PublishWorkload::on_reply(const Reply& reply) {
  auto id = number_in(reply.id);
  if (!id || *id == 0) return void(++unknown_replies_);
  const std::size_t r = (*id - 1) % p_.rooms;
  const auto seq = static_cast<std::int64_t>((*id - 1) / p_.rooms + 1);
  auto& room = rooms_[r];
  if (seq > room.sent || room.acked[static_cast<std::size_t>(seq)] != 0) return void(++unknown_replies_);
  const std::size_t k = r % p_.publishers;
  ++pubs_[k].answered;
  auto offset = reply.ok ? SoakMessage::offset_of_reply(reply.frame) : std::nullopt;
  if (!offset || *offset < 1) {
    room.acked[static_cast<std::size_t>(seq)] = -1;
    ++refused_;
    ++pubs_[k].refused;
  } else {
    room.acked[static_cast<std::size_t>(seq)] = *offset;
    ++acked_per_master_[room.master];
  }
  pump(k);
}

void PublishWorkload::on_delivery(const Delivery& d) {
  constexpr std::string_view prefix = "bench:publish:";
  auto r = d.room.starts_with(prefix) ? number_in(d.room.substr(prefix.size())) : std::nullopt;
  auto offset = SoakMessage::int_after(d.frame, R"(,"offset":)", true);
  if (!r || *r >= rooms_.size() || !offset) return void(++unknown_deliveries_);
  rooms_[*r].received.emplace_back(d.seq, *offset);
  const std::size_t k = *r % p_.publishers;
  ++pubs_[k].delivered;
  pump(k);
}

std::size_t PublishWorkload::acked_total() const {
  std::size_t sum = 0;
  for (auto n : acked_per_master_) sum += n;
  return sum;
}

void PublishWorkload::report(nlohmann::ordered_json& out, const CpuMeter& cpu, double elapsed) const {
  // Per room: every acknowledged seq received once, with its acknowledged offset, in order.
  std::int64_t sent = 0, unanswered = 0, lost = 0, duplicates = 0, order_errors = 0, offset_mismatches = 0,
               deliveries = 0;
  for (const auto& room : rooms_) {
    sent += room.sent;
    std::vector<std::uint8_t> got(room.acked.size(), 0);
    std::int64_t last_seq = 0, last_offset = 0;
    for (const auto& [seq, offset] : room.received) {
      ++deliveries;
      if (seq != last_seq + 1 || offset <= last_offset) ++order_errors;
      last_seq = seq;
      last_offset = offset;
      if (seq < 1 || seq > room.sent) continue;
      const auto s = static_cast<std::size_t>(seq);
      if (got[s]++ > 0) ++duplicates;
      if (room.acked[s] > 0 && room.acked[s] != offset) ++offset_mismatches;
    }
    for (std::size_t s = 1; s < room.acked.size(); ++s) {
      if (room.acked[s] == 0) ++unanswered;
      if (room.acked[s] > 0 && got[s] == 0) ++lost;
    }
  }
  out["published"] = sent;
  out["acked"] = acked_total();
  out["publish_errors"] = refused_;
  if (traffic_.publish_errors) out["first_publish_error"] = traffic_.first_publish_error;
  out["unanswered"] = unanswered;
  out["deliveries"] = deliveries;
  out["lost"] = lost;
  out["duplicates"] = duplicates;
  out["order_errors"] = order_errors + static_cast<std::int64_t>(traffic_.order_errors);
  out["offset_mismatches"] = offset_mismatches;
  out["unknown_frames"] = unknown_replies_ + unknown_deliveries_ + traffic_.other_frames;

  const auto measured = static_cast<double>(measured_publishes_);
  out["elapsed_s"] = Figures::rounded(elapsed, 1000);
  out["measured_publishes"] = measured_publishes_;
  out["publishes_per_s"] = std::round(measured / elapsed);
  cpu.report(out, elapsed, measured_publishes_, 1000);
  auto per = [&](double us, double publishes) { return publishes > 0 ? Figures::rounded(us / publishes, 1000) : 0.0; };
  out["node_cpu_us_per_publish"] = per(static_cast<double>(cpu.node_cpu_us()), measured);
  if (deployment_.has_redis()) {
    out["redis_cpu_us_per_publish"] = per(static_cast<double>(cpu.redis_cpu_us()), measured);
    out["redis_cpu_util"] = Figures::rounded(static_cast<double>(cpu.redis_cpu_us()) / (elapsed * 1e6), 1000);
  }
  if (deployment_.redis_masters() > 0) {
    // Each master's CPU over the publishes to the rooms it owns: what one master pays per publish.
    const auto used = cpu.redis_cpu_us_per_master();
    nlohmann::ordered_json per_master = nlohmann::ordered_json::array();
    for (std::size_t m = 0; m < used.size() && m < measured_per_master_.size(); ++m)
      per_master.push_back(per(static_cast<double>(used[m]), static_cast<double>(measured_per_master_[m])));
    out["publishes_per_master"] = measured_per_master_;
    out["redis_cpu_us_per_publish_per_master"] = per_master;
  }
  traffic_.report_clients(out);
}

}  // namespace switchboard::bench
