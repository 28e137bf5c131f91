// The memcached-over-UDP client workload (rules in workload.h).
#include "simulation/workload.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "simulation/topology.h"

namespace twinstep::sim {
namespace {

constexpr size_t kFrameHeaderBytes = 8;  // memcached UDP: request id, sequence, count, reserved
constexpr int64_t kMaxResendIntervalMs = 1000;
constexpr size_t kMaxProblems = 50;

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string Key(uint32_t k) { return "k" + std::to_string(k); }

// "w<write>k<key>" padded with dots: a value names its write and its key.
std::string Value(uint64_t write, uint32_t key, uint32_t bytes) {
  std::string v = "w" + std::to_string(write) + "k" + std::to_string(key);
  if (v.size() < bytes) v.append(bytes - v.size(), '.');
  return v;
}

// Parses a value written by Value(); false when it is not one.
bool ParseValue(std::string_view v, uint64_t* write, uint32_t* key) {
  if (v.empty() || v[0] != 'w') return false;
  size_t i = 1;
  uint64_t w = 0, k = 0;
  if (i >= v.size() || !isdigit(static_cast<unsigned char>(v[i]))) return false;
  while (i < v.size() && isdigit(static_cast<unsigned char>(v[i]))) w = w * 10 + static_cast<uint64_t>(v[i++] - '0');
  if (i >= v.size() || v[i++] != 'k' || i >= v.size() || !isdigit(static_cast<unsigned char>(v[i]))) return false;
  while (i < v.size() && isdigit(static_cast<unsigned char>(v[i]))) k = k * 10 + static_cast<uint64_t>(v[i++] - '0');
  while (i < v.size() && v[i] == '.') ++i;
  if (i != v.size()) return false;
  *write = w;
  *key = static_cast<uint32_t>(k);
  return true;
}

}  // namespace

struct Workload::Open {
  size_t rec;
  int64_t next_send_ns;
  int64_t interval_ms;
};

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kPending: return "pending";
    case Outcome::kOk: return "ok";
    case Outcome::kWrong: return "wrong";
    case Outcome::kServerError: return "server_error";
    case Outcome::kUnanswered: return "unanswered";
  }
  return "?";
}

Workload::Workload(const WorkloadConfig& c)
    : config_(c), keys_(c.keys), open_by_rid_(65536), last_rec_by_rid_(65536, -1), rng_(c.seed * 2654435761u + 1) {}

SimResult<std::unique_ptr<Workload>> Workload::Create(const WorkloadConfig& config) {
  if (config.keys == 0 || config.rate <= 0 || config.value_bytes < 24 || config.value_bytes > 1000)
    return SimFail(SimErrc::kWorkload, "keys > 0, rate > 0 and 24 <= value_bytes <= 1000 are needed");
  std::unique_ptr<Workload> w(new Workload(config));
  in_addr a{};
  if (inet_pton(AF_INET, config.server.c_str(), &a) != 1)
    return SimFail(SimErrc::kWorkload, "bad server address '" + config.server + "'");
  w->server_ip_ = a.s_addr;
  auto open_socket = [&] {
    w->fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int buf = 4 << 20;
    if (w->fd_ >= 0) setsockopt(w->fd_, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  };
  if (config.netns.empty()) {
    open_socket();
  } else if (!InNetns(config.netns, open_socket)) {
    return SimFail(SimErrc::kWorkload, "cannot enter network namespace " + config.netns);
  }
  if (w->fd_ < 0) return SimFail(SimErrc::kWorkload, std::string("socket: ") + strerror(errno));
  return w;
}

Workload::~Workload() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) close(fd_);
}

void Workload::Start() {
  stop_ = false;
  thread_ = std::thread([this] { Loop(false); });
}

void Workload::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void Workload::Verify() {
  stop_ = false;
  verify_next_ = 0;
  Loop(true);
}

void Workload::Problem(std::string what) {
  if (problems_.size() < kMaxProblems) problems_.push_back(std::move(what));
}

void Workload::Send(uint16_t rid, size_t rec) {
  const RequestRecord& r = records_[rec];
  std::string msg(kFrameHeaderBytes, '\0');
  msg[0] = static_cast<char>(rid >> 8), msg[1] = static_cast<char>(rid & 0xff);
  msg[5] = 1;  // one datagram
  const std::string key = Key(r.key);
  if (r.op == Op::kSet) {
    const std::string v = Value(r.write_id, r.key, config_.value_bytes);
    msg += "set " + key + " 0 0 " + std::to_string(v.size()) + "\r\n" + v + "\r\n";
  } else {
    msg += "get " + key + "\r\n";
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(config_.port);
  to.sin_addr.s_addr = server_ip_;
  // sockaddr_in is the sockaddr of an AF_INET socket.
  (void)sendto(fd_, msg.data(), msg.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
  ++records_[rec].sends;
}

bool Workload::SendNew(int64_t now, bool verify) {
  if (open_count_ >= config_.max_outstanding || open_by_rid_[next_rid_]) {
    ++throttled_;
    return false;
  }
  RequestRecord r;
  r.send_ns = now;
  if (verify) {
    while (verify_next_ < keys_.size() && keys_[verify_next_].issued == 0) ++verify_next_;
    if (verify_next_ >= keys_.size()) return false;
    r.key = verify_next_++;
    r.op = Op::kVerify;
  } else {
    rng_ = rng_ * 6364136223846793005ull + 1442695040888963407ull;
    r.key = static_cast<uint32_t>((rng_ >> 33) % keys_.size());
    const double u = static_cast<double>((rng_ >> 11) & 0xfffff) / 0x100000;
    r.op = u < config_.set_ratio && !keys_[r.key].set_open ? Op::kSet : Op::kGet;
  }
  KeyState& k = keys_[r.key];
  if (r.op == Op::kSet) {
    r.write_id = next_write_++;
    k.issued = r.write_id;
    k.set_open = true;
  } else {
    r.floor = std::max(k.acked, k.seen);
  }
  const uint16_t rid = next_rid_++;
  if (next_rid_ == 0) next_rid_ = 1;
  records_.push_back(r);
  const size_t rec = records_.size() - 1;
  open_by_rid_[rid] = std::make_unique<Open>(Open{rec, now + int64_t{config_.retry_ms} * 1'000'000, config_.retry_ms});
  last_rec_by_rid_[rid] = static_cast<int64_t>(rec);
  open_rids_.push_back(rid);
  ++open_count_;
  Send(rid, rec);
  sent_.fetch_add(1, std::memory_order_relaxed);
  open_.store(open_count_, std::memory_order_relaxed);
  return true;
}

void Workload::Complete(size_t rec, int64_t now, const char* data, size_t len) {
  RequestRecord& r = records_[rec];
  KeyState& k = keys_[r.key];
  r.done_ns = now;
  const std::string_view text(data, len);
  const std::string key = Key(r.key);
  auto wrong = [&](const std::string& why) {
    r.outcome = text.rfind("SERVER_ERROR", 0) == 0 ? Outcome::kServerError : Outcome::kWrong;
    Problem("key " + key + ": " + why + ": '" + std::string(text.substr(0, 80)) + "'");
    errors_.fetch_add(1, std::memory_order_relaxed);
  };
  if (r.op == Op::kSet) {
    k.set_open = false;
    if (text != "STORED\r\n") return wrong("set w" + std::to_string(r.write_id) + " not STORED");
    r.outcome = Outcome::kOk;
    k.acked = std::max(k.acked, r.write_id);
  } else if (text == "END\r\n") {
    if (r.floor != 0 || (r.op == Op::kVerify && k.acked != 0)) {
      if (r.op == Op::kVerify) ++lost_;
      return wrong("not found, but w" + std::to_string(std::max(r.floor, k.acked)) + " was acknowledged or seen");
    }
    r.outcome = Outcome::kOk;
  } else {
    // VALUE <key> <flags> <bytes>\r\n<data>\r\nEND\r\n
    const std::string head = "VALUE " + key + " 0 ";
    const size_t eol = text.find("\r\n");
    if (text.rfind(head, 0) != 0 || eol == std::string_view::npos) return wrong("not a VALUE reply for this key");
    const std::string_view value = text.substr(eol + 2, text.size() >= eol + 2 + 7 ? text.size() - eol - 2 - 7 : 0);
    if (text.size() < eol + 2 + 7 || text.substr(text.size() - 7) != "\r\nEND\r\n")
      return wrong("VALUE reply not ended by END");
    uint64_t w = 0;
    uint32_t vk = 0;
    if (!ParseValue(value, &w, &vk) || vk != r.key) return wrong("a value this client never wrote to this key");
    r.write_id = w;
    const uint64_t floor = r.op == Op::kVerify ? std::max(r.floor, k.acked) : r.floor;
    if (w < floor) {
      if (r.op == Op::kVerify) ++lost_;
      return wrong("returned w" + std::to_string(w) + ", older than w" + std::to_string(floor) +
                   " acknowledged or seen before");
    }
    if (w > k.issued) return wrong("returned w" + std::to_string(w) + ", newer than any set issued");
    k.seen = std::max(k.seen, w);
    r.outcome = Outcome::kOk;
  }
  if (r.op == Op::kVerify && r.outcome == Outcome::kOk) ++verified_;
}

void Workload::Receive(int64_t now) {
  char buf[2048];
  for (;;) {
    const ssize_t n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) return;
    if (static_cast<size_t>(n) < kFrameHeaderBytes) {
      ++strays_;
      continue;
    }
    const uint16_t rid = static_cast<uint16_t>((static_cast<uint8_t>(buf[0]) << 8) | static_cast<uint8_t>(buf[1]));
    const uint16_t count = static_cast<uint16_t>((static_cast<uint8_t>(buf[4]) << 8) | static_cast<uint8_t>(buf[5]));
    const int64_t rec = last_rec_by_rid_[rid];
    if (rec < 0) {
      ++strays_;
      continue;
    }
    RequestRecord& r = records_[static_cast<size_t>(rec)];
    if (++r.replies > r.sends) ++duplicates_;  // more replies than sends: an output released twice
    auto& open = open_by_rid_[rid];
    if (!open) continue;  // the reply to a resend of an answered request
    open.reset();
    --open_count_;
    open_.store(open_count_, std::memory_order_relaxed);
    if (count != 1) {
      r.done_ns = now;
      r.outcome = Outcome::kWrong;
      Problem("request " + std::to_string(rec) + ": reply in " + std::to_string(count) + " datagrams");
      errors_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    Complete(static_cast<size_t>(rec), now, buf + kFrameHeaderBytes, static_cast<size_t>(n) - kFrameHeaderBytes);
    answered_.fetch_add(1, std::memory_order_relaxed);
  }
}

void Workload::Resend(int64_t now) {
  for (size_t i = 0; i < open_rids_.size();) {
    const uint16_t rid = open_rids_[i];
    auto& o = open_by_rid_[rid];
    if (!o) {  // answered meanwhile
      open_rids_[i] = open_rids_.back();
      open_rids_.pop_back();
      continue;
    }
    ++i;
    if (o->next_send_ns > now) continue;
    RequestRecord& r = records_[o->rec];
    if (now - r.send_ns >= int64_t{config_.give_up_ms} * 1'000'000 || r.sends == 255) {
      r.outcome = Outcome::kUnanswered;
      r.done_ns = now;
      if (r.op == Op::kSet) keys_[r.key].set_open = false;  // its effect is unknown: any later get may show it
      o.reset();
      --open_count_;
      open_.store(open_count_, std::memory_order_relaxed);
      errors_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    Send(rid, o->rec);
    ++resends_;
    o->interval_ms = std::min<int64_t>(o->interval_ms * 2, kMaxResendIntervalMs);
    o->next_send_ns = now + o->interval_ms * 1'000'000;
  }
}

void Workload::Loop(bool verify) {
  const int64_t period_ns = static_cast<int64_t>(1e9 / config_.rate);
  int64_t next_send = NowNs(), next_resend_scan = next_send;
  bool more = true;
  for (;;) {
    int64_t now = NowNs();
    const bool sending = !stop_.load(std::memory_order_relaxed) && more;
    if (!sending && open_count_ == 0) break;
    if (sending && now >= next_send) {
      // Catch up a short stall of this thread, but do not burst a long one.
      if (now - next_send > 100'000'000) next_send = now;
      if (SendNew(now, verify) || !verify) next_send += period_ns;
      if (verify && verify_next_ >= keys_.size()) more = false;
    }
    if (now >= next_resend_scan) {
      Resend(now);
      next_resend_scan = now + 5'000'000;
    }
    Receive(now);
    now = NowNs();
    int64_t wait = std::min(next_resend_scan, sending ? next_send : next_resend_scan) - now;
    if (wait > 0) {
      pollfd p{fd_, POLLIN, 0};
      const timespec ts{0, std::min<int64_t>(wait, 5'000'000)};
      (void)ppoll(&p, 1, &ts, nullptr);
    }
  }
}

WorkloadTotals Workload::Totals() const {
  WorkloadTotals t;
  std::vector<int64_t> lat;
  int64_t first_send = 0, last_send = 0;
  for (const auto& r : records_) {
    if (r.op == Op::kVerify) {
      if (r.outcome == Outcome::kUnanswered) ++t.verify_unanswered;
      continue;
    }
    ++t.requests;
    if (first_send == 0) first_send = r.send_ns;
    last_send = r.send_ns;
    (r.op == Op::kSet ? t.sets : t.gets)++;
    switch (r.outcome) {
      case Outcome::kOk:
        ++t.ok;
        if (r.op == Op::kSet) ++t.acked_writes;
        lat.push_back(r.done_ns - r.send_ns);
        break;
      case Outcome::kWrong: ++t.wrong; break;
      case Outcome::kServerError: ++t.server_errors; break;
      case Outcome::kUnanswered: ++t.unanswered; break;
      case Outcome::kPending: break;
    }
  }
  t.resends = resends_;
  t.duplicate_replies = duplicates_;
  t.stray_replies = strays_;
  t.throttled = throttled_;
  t.verified_keys = verified_;
  t.lost_acked_writes = lost_;
  if (!lat.empty()) {
    std::sort(lat.begin(), lat.end());
    auto pct = [&](double p) { return lat[std::min(lat.size() - 1, static_cast<size_t>(p * lat.size()))] / 1e3; };
    t.p50_us = pct(0.5), t.p99_us = pct(0.99), t.p999_us = pct(0.999), t.max_us = lat.back() / 1e3;
  }
  t.longest_gap_ms = LongestReplyGapMs(records_, first_send, last_send, &t.longest_gap_start_ns);
  if (last_send > first_send) t.rate = static_cast<double>(t.requests - 1) * 1e9 / static_cast<double>(last_send - first_send);
  return t;
}

double LongestReplyGapMs(const std::vector<RequestRecord>& records, int64_t from_ns, int64_t to_ns,
                         int64_t* start_ns) {
  // Requests go out every 1/rate s while the load runs, so a long time
  // between two replies is a pause the clients saw.
  std::vector<int64_t> done;
  for (const auto& r : records) {
    if (r.op != Op::kVerify && r.outcome == Outcome::kOk && r.done_ns >= from_ns) done.push_back(r.done_ns);
  }
  std::sort(done.begin(), done.end());
  int64_t prev = from_ns, longest = 0;
  for (int64_t d : done) {
    if (d > to_ns) break;
    if (d - prev > longest) {
      longest = d - prev;
      if (start_ns) *start_ns = prev;
    }
    prev = d;
  }
  return longest / 1e6;
}

}  // namespace twinstep::sim
