#include "Traffic.h"

namespace switchboard::bench {

Traffic::Traffic(boost::asio::io_context& ioc, Deployment& deployment)
    : deployment_(deployment), subscribers_(ioc), publishers_(ioc) {}

void Traffic::open_subscribers(const Subscribers& wanted) {
  subscribers_wanted_ = wanted.count;
  on_delivery_ = wanted.on_delivery;
  ClientFleet::Plan plan;
  plan.count = wanted.count;
  plan.concurrency = wanted.concurrency;
  plan.timeout = wanted.timeout;
  plan.endpoint_of = [this](std::size_t i) { return deployment_.endpoint(i % deployment_.size()); };
  plan.room_of = wanted.room_of;
  plan.on_frame = [this](BenchClient& c, std::string_view frame) { on_subscriber_frame(c, frame); };
  plan.nats = deployment_.nats();
  plan.on_nats = [this](BenchClient& c, const NatsStream::Event& e) { on_nats_subscriber(c, e); };
  subscribers_.open(plan);
}

void Traffic::on_subscriber_frame(BenchClient& c, std::string_view frame) {
  auto d = parse_delivery(frame);
  if (!d) return void(++other_frames);
  on_delivery(c, *d);
}

void Traffic::on_nats_subscriber(BenchClient& c, const NatsStream::Event& e) {
  if (e.kind != NatsStream::Kind::msg) return void(++other_frames);
  auto d = parse_data(e.payload);
  if (!d) return void(++other_frames);
  d->room = e.subject;
  on_delivery(c, *d);
}

void Traffic::on_delivery(BenchClient& c, const Delivery& d) {
  ++deliveries;
  ++c.received;
  if (d.seq != c.last_seq + 1) ++order_errors;
  c.last_seq = d.seq;
  if (on_delivery_) on_delivery_(c, d);
}

void Traffic::open_publishers(std::size_t count, std::function<void(const Reply&)> on_reply) {
  publishers_wanted_ = count;
  on_reply_ = std::move(on_reply);
  ClientFleet::Plan plan;
  plan.count = count;
  plan.endpoint_of = [this](std::size_t) { return deployment_.endpoint(0); };
  plan.on_frame = [this](BenchClient&, std::string_view frame) { on_publisher_frame(frame); };
  plan.nats = deployment_.nats();
  plan.on_nats = [this](BenchClient&, const NatsStream::Event& e) { on_nats_publisher(e); };
  publishers_.open(plan);
}

void Traffic::on_nats_publisher(const NatsStream::Event& e) {
  // The PONG to the PING after each PUB: the server has handled the PUB.
  if (e.kind == NatsStream::Kind::pong) {
    ++acked;
    if (on_reply_) on_reply_(Reply{{}, true, e.line});
    return;
  }
  if (e.kind == NatsStream::Kind::err && publish_errors++ == 0) first_publish_error = std::string(e.line);
  ++other_frames;
}

std::string Traffic::publish_frame(std::string_view room, std::int64_t seq, std::int64_t sent_ns,
                                   std::size_t payload_bytes) const {
  if (deployment_.nats()) return NatsStream::pub_command(room, benchmark_data(seq, sent_ns, payload_bytes));
  return switchboard::bench::publish_frame(room, seq, sent_ns, payload_bytes);
}

void Traffic::on_publisher_frame(std::string_view frame) {
  auto r = parse_reply(frame);
  if (!r) return void(++other_frames);
  ++acked;  // an error reply too: it is answered
  if (!r->ok && publish_errors++ == 0) first_publish_error = std::string(frame);
  if (on_reply_) on_reply_(*r);
}

bool Traffic::ready(nlohmann::ordered_json& out) const {
  if (subscribers_.ready() == subscribers_wanted_ && publishers_.ready() == publishers_wanted_) return true;
  out["error"] = "could not open every connection";
  out["client_errors"] = subscribers_.errors();
  return false;
}

void Traffic::report_deliveries(nlohmann::ordered_json& out, std::size_t expected,
                                bool with_first_error) const {
  out["deliveries"] = deliveries;
  out["expected"] = expected;
  out["lost"] = static_cast<std::int64_t>(expected) - static_cast<std::int64_t>(deliveries);
  out["order_errors"] = order_errors;
  out["publish_errors"] = publish_errors;
  if (with_first_error && publish_errors) out["first_publish_error"] = first_publish_error;
  out["other_frames"] = other_frames;
}

void Traffic::report_clients(nlohmann::ordered_json& out) const {
  out["unexpected_closes"] = subscribers_.unexpected_closes() + publishers_.unexpected_closes();
  auto errors = subscribers_.errors();
  publishers_.add_errors_to(errors);
  out["client_errors"] = errors;
  out["node_metrics"] = deployment_.metrics_report();
}

void Traffic::close_all(std::chrono::milliseconds subscribers_timeout) {
  subscribers_.close_all(subscribers_timeout);
  publishers_.close_all();
}

}  // namespace switchboard::bench
