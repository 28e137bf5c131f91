// The soft guest (see soft_guest.h).
#include "host/softguest/soft_guest.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstring>
#include <sstream>

#include "host/replication/state_image.h"

namespace twinstep::softguest {
namespace {

constexpr uint64_t kHeaderGpa = 0;  // magic, cas counter, item count
constexpr uint64_t kSlotsGpa = host::kPageSize;
constexpr uint64_t kMagic = 0x5453474B56303031ull;  // "TSGKV001"
constexpr uint16_t kEthArp = 0x0806, kEthIpv4 = 0x0800;
constexpr uint8_t kIcmp = 1, kUdp = 17;
constexpr uint16_t kEchoPort = 7, kMemcachedPort = 11211;
constexpr size_t kMemcachedHeader = 8;
constexpr size_t kMaxDatagram = 1400;  // memcached's UDP payload bound, header included
// Slot layout: used u8 (0 empty, 1 item, 2 deleted), klen u8, vlen u16, flags u32, cas u64, key, value.
constexpr size_t kOffUsed = 0, kOffKlen = 1, kOffVlen = 2, kOffFlags = 4, kOffCas = 8, kOffKey = 16,
                 kOffValue = kOffKey + SoftGuest::kKeyMax;
static_assert(kOffValue + SoftGuest::kValueMax <= SoftGuest::kSlotBytes);

uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
void PutBe16(uint8_t* p, uint16_t v) { p[0] = static_cast<uint8_t>(v >> 8), p[1] = static_cast<uint8_t>(v); }
uint32_t Be32(const uint8_t* p) { return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3]; }

uint16_t Checksum(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += Be16(p + i);
  if (n & 1) sum += uint32_t{p[n - 1]} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

uint32_t Fnv1a(std::string_view k) {
  uint32_t h = 2166136261u;
  for (char c : k) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  return h;
}

std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

bool ParseU64(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

host::Result<std::unique_ptr<SoftGuest>> SoftGuest::Create(const SoftGuestConfig& config, host::NetBackend* net) {
  const uint64_t need = kSlotsGpa + kSlots * kSlotBytes;
  if (config.mem_bytes < need) {
    return host::Fail(host::Errc::kArgument, "the soft guest needs at least " + std::to_string((need >> 20) + 2) +
                                                 " MiB of memory for its store");
  }
  auto mem = host::GuestMemory::Create(config.mem_bytes, false);
  if (!mem) return MakeUnexpected(mem.error());
  std::unique_ptr<SoftGuest> g(new SoftGuest(config, net));
  g->memory_ = std::move(*mem);
  g->kick_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  g->thread_ = std::thread([p = g.get()] { p->Run(); });
  return g;
}

SoftGuest::~SoftGuest() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    quit_ = true;
    run_ = false;
  }
  cv_.notify_all();
  Kick();
  if (thread_.joinable()) thread_.join();
  if (kick_fd_ >= 0) close(kick_fd_);
}

void SoftGuest::Kick() {
  if (kick_fd_ < 0) return;
  const uint64_t one = 1;
  (void)!write(kick_fd_, &one, sizeof one);
}

void SoftGuest::Idle() {
  // Up to a millisecond: the kick ends it early, the timeout only bounds a
  // backend without a doorbell (it then polls every 20 µs as before).
  const int net_fd = net_->ReadableFd();
  if (net_fd >= 0 && !net_->ArmReadable()) return;
  pollfd fds[2] = {{kick_fd_, POLLIN, 0}, {net_fd, POLLIN, 0}};
  const timespec ts{0, net_fd >= 0 ? 1'000'000 : 20'000};
  if (ppoll(fds, net_fd >= 0 ? 2 : 1, &ts, nullptr) > 0 && (fds[0].revents & POLLIN)) {
    uint64_t v;
    (void)!read(kick_fd_, &v, sizeof v);
  }
}

host::Status SoftGuest::Boot() {
  uint64_t header[3] = {kMagic, 0, 0};
  return memory_->Write(kHeaderGpa, {reinterpret_cast<const uint8_t*>(header), sizeof header});
}

host::Status SoftGuest::Resume() {
  uint64_t magic = 0;
  if (auto r = memory_->Read(kHeaderGpa, {reinterpret_cast<uint8_t*>(&magic), sizeof magic}); !r) return r;
  if (magic != kMagic) return host::Fail(host::Errc::kArgument, "the soft guest has no store: boot or restore it first");
  {
    std::lock_guard<std::mutex> lock(mu_);
    run_ = true;
  }
  cv_.notify_all();
  return {};
}

void SoftGuest::Pause() {
  std::unique_lock<std::mutex> lock(mu_);
  run_ = false;
  Kick();
  cv_.wait(lock, [&] { return !running_; });
}

void SoftGuest::Run() {
  prctl(PR_SET_TIMERSLACK, 1UL);  // its short idle sleeps stay short, as the poll loop's
  prctl(PR_SET_NAME, "ts-guest");  // as `top -H` and /proc show it
  std::vector<uint8_t> buf(9216);
  std::vector<std::vector<uint8_t>> replies;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      running_ = false;
      cv_.notify_all();
      cv_.wait(lock, [&] { return run_ || quit_; });
      if (quit_) return;
      running_ = true;
    }
    // Polls like the test guest's virtio driver; parks when asked to pause.
    uint32_t idle = 0;
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!run_) break;
      }
      size_t len = 0;
      const host::NetStatus s = net_->Receive(buf, &len);
      if (s != host::NetStatus::kOk) {
        if (++idle > 64) Idle();
        continue;
      }
      idle = 0;
      counters_.frames_in.fetch_add(1, std::memory_order_relaxed);
      replies.clear();
      Handle({buf.data(), len}, replies);
      for (const auto& r : replies) {
        while (net_->Send(r) == host::NetStatus::kAgain) {
          timespec ts{0, 10'000};
          nanosleep(&ts, nullptr);
        }
        counters_.frames_out.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }
}

void SoftGuest::Handle(std::span<const uint8_t> f, std::vector<std::vector<uint8_t>>& replies) {
  if (f.size() < 14) {
    counters_.bad_frames.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const uint16_t type = Be16(&f[12]);
  if (type == kEthArp) HandleArp(f, replies);
  if (type == kEthIpv4) HandleIpv4(f, replies);
}

void SoftGuest::HandleArp(std::span<const uint8_t> f, std::vector<std::vector<uint8_t>>& replies) {
  if (f.size() < 42 || Be16(&f[20]) != 1 || Be32(&f[38]) != config_.ip) return;  // a request for our address
  std::vector<uint8_t> r(60, 0);
  std::memcpy(&r[0], &f[6], 6);
  std::memcpy(&r[6], config_.mac, 6);
  PutBe16(&r[12], kEthArp);
  std::memcpy(&r[14], &f[14], 6);  // hardware and protocol types and sizes
  PutBe16(&r[20], 2);              // reply
  std::memcpy(&r[22], config_.mac, 6);
  std::memcpy(&r[28], &f[38], 4);
  std::memcpy(&r[32], &f[22], 10);  // the asker's MAC and address
  replies.push_back(std::move(r));
}

void SoftGuest::HandleIpv4(std::span<const uint8_t> f, std::vector<std::vector<uint8_t>>& replies) {
  if (f.size() < 34) return;
  const uint8_t* ip = &f[14];
  const size_t ihl = (ip[0] & 0x0f) * 4u;
  const size_t total = Be16(ip + 2);
  if ((ip[0] >> 4) != 4 || ihl < 20 || total < ihl || 14 + total > f.size() || Be32(ip + 16) != config_.ip ||
      (Be16(ip + 6) & 0x3fff) != 0) {
    return;  // not for us, or a fragment
  }
  const uint8_t proto = ip[9];
  std::span<const uint8_t> l4 = f.subspan(14 + ihl, total - ihl);
  std::vector<uint8_t> payload;
  uint16_t sport = 0, dport = 0;
  if (proto == kIcmp) {
    if (l4.size() < 8 || l4[0] != 8) return;  // echo request
    payload.assign(l4.begin(), l4.end());
    payload[0] = 0;
    payload[2] = payload[3] = 0;
    PutBe16(&payload[2], Checksum(payload.data(), payload.size()));
  } else if (proto == kUdp) {
    if (l4.size() < 8) return;
    sport = Be16(&l4[0]), dport = Be16(&l4[2]);
    const size_t ulen = Be16(&l4[4]);
    if (ulen < 8 || ulen > l4.size()) return;
    std::span<const uint8_t> data = l4.subspan(8, ulen - 8);
    std::vector<uint8_t> body;
    if (dport == kEchoPort) {
      body.assign(data.begin(), data.end());
    } else if (dport == kMemcachedPort && data.size() >= kMemcachedHeader) {
      counters_.requests.fetch_add(1, std::memory_order_relaxed);
      std::string out = Memcached({reinterpret_cast<const char*>(data.data()) + kMemcachedHeader,
                                   data.size() - kMemcachedHeader});
      if (out.size() > kMaxDatagram - kMemcachedHeader) out = "SERVER_ERROR reply too large\r\n";
      body.assign(data.begin(), data.begin() + kMemcachedHeader);  // request id; seq 0 of 1
      body[2] = body[3] = body[4] = 0, body[5] = 1, body[6] = body[7] = 0;
      body.insert(body.end(), out.begin(), out.end());
    } else {
      return;
    }
    payload.resize(8 + body.size());
    PutBe16(&payload[0], dport);
    PutBe16(&payload[2], sport);
    PutBe16(&payload[4], static_cast<uint16_t>(payload.size()));
    std::memcpy(&payload[8], body.data(), body.size());
  } else {
    return;
  }
  std::vector<uint8_t> r(14 + 20 + payload.size());
  std::memcpy(&r[0], &f[6], 6);  // back to the sender's MAC, as the test guest does
  std::memcpy(&r[6], config_.mac, 6);
  PutBe16(&r[12], kEthIpv4);
  uint8_t* h = &r[14];
  h[0] = 0x45;
  PutBe16(h + 2, static_cast<uint16_t>(20 + payload.size()));
  h[8] = 64;
  h[9] = proto;
  std::memcpy(h + 12, ip + 16, 4);  // from us
  std::memcpy(h + 16, ip + 12, 4);  // to the sender
  PutBe16(h + 10, Checksum(h, 20));
  std::memcpy(h + 20, payload.data(), payload.size());
  if (proto == kUdp) {
    uint32_t pseudo = Be16(h + 12) + Be16(h + 14) + Be16(h + 16) + Be16(h + 18) + kUdp + payload.size();
    uint16_t c = Checksum(h + 20, payload.size(), pseudo);
    PutBe16(h + 26, c == 0 ? 0xffff : c);
  }
  if (r.size() < 60) r.resize(60, 0);
  replies.push_back(std::move(r));
}

uint8_t* SoftGuest::Slot(size_t i) const { return memory_->HostPtr(kSlotsGpa + i * kSlotBytes, kSlotBytes); }

long SoftGuest::Find(std::string_view key) const {
  for (size_t step = 0, i = Fnv1a(key) % kSlots; step < kSlots; ++step, i = (i + 1) % kSlots) {
    const uint8_t* s = Slot(i);
    if (s[kOffUsed] == 0) return -1;
    if (s[kOffUsed] == 1 && s[kOffKlen] == key.size() && std::memcmp(s + kOffKey, key.data(), key.size()) == 0) {
      return static_cast<long>(i);
    }
  }
  return -1;
}

void SoftGuest::Store(size_t slot, std::string_view key, uint32_t flags, std::string_view value) {
  uint8_t* s = Slot(slot);
  uint64_t* header = reinterpret_cast<uint64_t*>(memory_->HostPtr(kHeaderGpa, 24));  // 8-aligned, in RAM
  if (s[kOffUsed] != 1) ++header[2];
  const uint64_t cas = ++header[1];
  s[kOffUsed] = 1;
  s[kOffKlen] = static_cast<uint8_t>(key.size());
  const uint16_t vlen = static_cast<uint16_t>(value.size());
  std::memcpy(s + kOffVlen, &vlen, 2);
  std::memcpy(s + kOffFlags, &flags, 4);
  std::memcpy(s + kOffCas, &cas, 8);
  std::memcpy(s + kOffKey, key.data(), key.size());
  std::memcpy(s + kOffValue, value.data(), value.size());
  memory_->MarkDirty(kHeaderGpa, 24);
  memory_->MarkDirty(kSlotsGpa + slot * kSlotBytes, kOffValue + value.size());
}

void SoftGuest::Erase(size_t slot) {
  Slot(slot)[kOffUsed] = 2;  // a tombstone keeps the probe chains whole
  uint64_t* header = reinterpret_cast<uint64_t*>(memory_->HostPtr(kHeaderGpa, 24));
  --header[2];
  memory_->MarkDirty(kHeaderGpa, 24);
  memory_->MarkDirty(kSlotsGpa + slot * kSlotBytes, 1);
}

std::string SoftGuest::Memcached(std::string_view req) {
  std::string out;
  while (!req.empty()) {
    const size_t eol = req.find("\r\n");
    if (eol == std::string_view::npos) return out + "ERROR\r\n";
    const auto w = Words(req.substr(0, eol));
    req.remove_prefix(eol + 2);
    if (w.empty()) return out + "ERROR\r\n";
    if (w[0] == "get" || w[0] == "gets") {
      for (size_t i = 1; i < w.size(); ++i) {
        const long at = Find(w[i]);
        if (at < 0) continue;
        const uint8_t* s = Slot(static_cast<size_t>(at));
        uint16_t vlen;
        uint32_t flags;
        uint64_t cas;
        std::memcpy(&vlen, s + kOffVlen, 2);
        std::memcpy(&flags, s + kOffFlags, 4);
        std::memcpy(&cas, s + kOffCas, 8);
        vlen = std::min<uint16_t>(vlen, kValueMax);  // a corrupted length stays inside the slot
        out += "VALUE " + std::string(w[i]) + " " + std::to_string(flags) + " " + std::to_string(vlen);
        if (w[0] == "gets") out += " " + std::to_string(cas);
        out += "\r\n";
        out.append(reinterpret_cast<const char*>(s + kOffValue), vlen);
        out += "\r\n";
      }
      out += "END\r\n";
    } else if (w[0] == "set" || w[0] == "add" || w[0] == "replace") {
      uint64_t flags = 0, exptime = 0, bytes = 0;
      if (w.size() < 5 || !ParseU64(w[2], &flags) || !ParseU64(w[3], &exptime) || !ParseU64(w[4], &bytes) ||
          flags > UINT32_MAX) {
        return out + "CLIENT_ERROR bad command line format\r\n";
      }
      if (bytes + 2 > req.size() || req.substr(bytes, 2) != "\r\n") return out + "CLIENT_ERROR bad data chunk\r\n";
      const std::string_view value = req.substr(0, bytes);
      req.remove_prefix(bytes + 2);
      const bool noreply = w.size() > 5 && w[5] == "noreply";
      std::string r;
      const long at = Find(w[1]);
      if (w[1].size() > kKeyMax) {
        r = "CLIENT_ERROR bad command line format\r\n";
      } else if (bytes > kValueMax) {
        r = "SERVER_ERROR object too large for cache\r\n";
      } else if ((w[0] == "add" && at >= 0) || (w[0] == "replace" && at < 0)) {
        r = "NOT_STORED\r\n";
      } else {
        long slot = at;
        for (size_t step = 0, i = Fnv1a(w[1]) % kSlots; slot < 0 && step < kSlots; ++step, i = (i + 1) % kSlots) {
          if (Slot(i)[kOffUsed] != 1) slot = static_cast<long>(i);
        }
        const uint64_t* header = reinterpret_cast<const uint64_t*>(memory_->HostPtr(kHeaderGpa, 24));
        if (slot < 0 || (at < 0 && header[2] + 1 >= kSlots * 9 / 10)) {
          r = "SERVER_ERROR out of memory storing object\r\n";
        } else {
          Store(static_cast<size_t>(slot), w[1], static_cast<uint32_t>(flags), value);
          r = "STORED\r\n";
        }
      }
      if (!noreply) out += r;
    } else if (w[0] == "delete" && w.size() >= 2) {
      const long at = Find(w[1]);
      if (at >= 0) Erase(static_cast<size_t>(at));
      out += at >= 0 ? "DELETED\r\n" : "NOT_FOUND\r\n";
    } else if (w[0] == "version") {
      out += "VERSION twinstep-softguest\r\n";
    } else {
      out += "ERROR\r\n";
    }
  }
  return out;
}

// A checkpoint: the extra blob, then a page image of the listed frames.
host::Result<std::vector<uint8_t>> SoftGuest::EncodeCheckpoint(std::span<const uint64_t> gfns,
                                                               std::span<const uint8_t> extra) {
  auto pages = host::EncodePages(*memory_, gfns, false);
  if (!pages) return MakeUnexpected(pages.error());
  std::vector<uint8_t> out(8);
  const uint64_t n = extra.size();
  std::memcpy(out.data(), &n, 8);
  out.insert(out.end(), extra.begin(), extra.end());
  out.insert(out.end(), pages->begin(), pages->end());
  return out;
}

host::Status SoftGuest::ApplyCheckpoint(std::span<const uint8_t> image, std::vector<uint8_t>* extra) {
  uint64_t n = 0;
  if (image.size() < 8 || (std::memcpy(&n, image.data(), 8), n > image.size() - 8)) {
    return host::Fail(host::Errc::kSnapshotTruncated, "soft guest checkpoint: the extra blob runs past the image");
  }
  if (auto s = host::ApplyPages(*memory_, image.subspan(8 + n)); !s) return s;
  if (extra) extra->assign(image.begin() + 8, image.begin() + 8 + static_cast<long>(n));
  return {};
}

}  // namespace twinstep::softguest
