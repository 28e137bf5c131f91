// virtio-net backend over the guest port (see guest_backend.h).
#include "dataplane/guest_backend.h"

#include <algorithm>
#include <cstring>

namespace twinstep::dataplane {
namespace {

constexpr uint32_t kStateMagic = 0x4E425354;  // "TSBN"
constexpr uint32_t kStateVersion = 1;
constexpr size_t kMaxInputBytes = 65535;

template <typename T>
void Put(std::vector<uint8_t>& out, T v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);  // trivially copyable, little-endian host
  out.insert(out.end(), p, p + sizeof v);
}

template <typename T>
bool Get(std::span<const uint8_t>& in, T* v) {
  if (in.size() < sizeof *v) return false;
  std::memcpy(v, in.data(), sizeof *v);
  in = in.subspan(sizeof *v);
  return true;
}

std::vector<uint8_t> CopyOut(rte_mbuf* m) {
  std::vector<uint8_t> bytes(rte_pktmbuf_pkt_len(m));
  const void* p = rte_pktmbuf_read(m, 0, static_cast<uint32_t>(bytes.size()), bytes.data());
  if (p != bytes.data()) std::memcpy(bytes.data(), p, bytes.size());
  return bytes;
}

}  // namespace

host::NetStatus GuestNetBackend::Send(std::span<const uint8_t> frame) {
  if (port_->GuestTransmitRoom() == 0) return host::NetStatus::kAgain;
  if (frame.size() > UINT16_MAX) return host::NetStatus::kError;
  rte_mbuf* m = rte_pktmbuf_alloc(port_->pool());
  if (m == nullptr) return host::NetStatus::kAgain;  // the pool refills as the dataplane sends
  char* dst = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
  if (dst == nullptr) {
    rte_pktmbuf_free(m);
    ++oversized_;
    return host::NetStatus::kError;
  }
  std::memcpy(dst, frame.data(), frame.size());
  if (port_->GuestTransmit(&m, 1) != 1) {  // only this thread produces: cannot happen after the room check
    rte_pktmbuf_free(m);
    return host::NetStatus::kAgain;
  }
  return host::NetStatus::kOk;
}

bool GuestNetBackend::Admit(uint64_t seq) {
  if (seq == kNoInputSeq) return true;
  if (seq < next_seq_) {
    ++skipped_;  // already part of the restored state, or replayed from the log
    return false;
  }
  next_seq_ = seq + 1;
  return true;
}

void GuestNetBackend::Consumed(Input&& in) {
  if (!keep_log_) return;
  if (log_.size() >= log_limit_) {
    log_.pop_front();
    ++log_overflows_;
  }
  log_.push_back(std::move(in));
}

host::NetStatus GuestNetBackend::Receive(std::span<uint8_t> buf, size_t* len) {
  if (!pending_.empty()) {
    Input& in = pending_.front();
    if (in.bytes.size() > buf.size()) {
      ++oversized_;
      pending_.pop_front();
      return host::NetStatus::kError;
    }
    std::memcpy(buf.data(), in.bytes.data(), in.bytes.size());
    *len = in.bytes.size();
    Consumed(std::move(in));
    pending_.pop_front();
    return host::NetStatus::kOk;
  }
  rte_mbuf* m = nullptr;
  for (;;) {
    if (port_->GuestReceive(&m, 1) != 1) return host::NetStatus::kAgain;
    if (Admit(InputSeq(m))) break;
    rte_pktmbuf_free(m);
  }
  const size_t n = rte_pktmbuf_pkt_len(m);
  if (n > buf.size()) {
    rte_pktmbuf_free(m);
    ++oversized_;
    return host::NetStatus::kError;
  }
  // rte_pktmbuf_read copies across segments when the packet has several.
  const void* p = rte_pktmbuf_read(m, 0, static_cast<uint32_t>(n), buf.data());
  if (p != buf.data()) std::memcpy(buf.data(), p, n);
  *len = n;
  if (keep_log_) Consumed({InputSeq(m), std::vector<uint8_t>(buf.begin(), buf.begin() + n)});
  rte_pktmbuf_free(m);
  return host::NetStatus::kOk;
}

bool GuestNetBackend::ArmReadable() {
  Doorbell& bell = port_->guest_bell();
  bell.Arm();
  if (!pending_.empty() || port_->GuestReceivePending() > 0) {
    bell.Disarm();
    return false;
  }
  return true;
}

void GuestNetBackend::TakeQueued() {
  rte_mbuf* m = nullptr;
  while (port_->GuestReceive(&m, 1) == 1) {
    if (Admit(InputSeq(m))) pending_.push_back({InputSeq(m), CopyOut(m)});
    rte_pktmbuf_free(m);
  }
}

std::vector<uint8_t> GuestNetBackend::SaveState() const {
  std::vector<uint8_t> out;
  Put(out, kStateMagic);
  Put(out, kStateVersion);
  Put(out, next_seq_);
  Put(out, static_cast<uint32_t>(pending_.size()));
  for (const Input& in : pending_) {
    Put(out, in.seq);
    Put(out, static_cast<uint32_t>(in.bytes.size()));
    out.insert(out.end(), in.bytes.begin(), in.bytes.end());
  }
  return out;
}

Expected<void, std::string> GuestNetBackend::LoadState(std::span<const uint8_t> state) {
  uint32_t magic = 0, version = 0, count = 0;
  uint64_t next = 0;
  if (!Get(state, &magic) || magic != kStateMagic) return MakeUnexpected(std::string("guest input state: bad magic"));
  if (!Get(state, &version) || version != kStateVersion) {
    return MakeUnexpected("guest input state: version " + std::to_string(version) + ", expected " +
                          std::to_string(kStateVersion));
  }
  if (!Get(state, &next) || !Get(state, &count)) return MakeUnexpected(std::string("guest input state: truncated header"));
  std::deque<Input> restored;
  for (uint32_t i = 0; i < count; ++i) {
    Input in;
    uint32_t n = 0;
    if (!Get(state, &in.seq) || !Get(state, &n) || n > kMaxInputBytes || state.size() < n) {
      return MakeUnexpected("guest input state: input " + std::to_string(i) + " of " + std::to_string(count) +
                            " truncated or longer than " + std::to_string(kMaxInputBytes) + " bytes");
    }
    in.bytes.assign(state.begin(), state.begin() + n);
    state = state.subspan(n);
    restored.push_back(std::move(in));
  }
  if (!state.empty()) {
    return MakeUnexpected("guest input state: " + std::to_string(state.size()) + " bytes after the last input");
  }
  // Our own inputs the primary's state has not seen follow its pending ones, in order.
  uint64_t seen = next;
  for (auto* own : {&log_, &pending_}) {
    for (Input& in : *own) {
      if (in.seq == kNoInputSeq || in.seq < seen) continue;
      seen = in.seq + 1;
      restored.push_back(std::move(in));
    }
  }
  pending_ = std::move(restored);
  next_seq_ = seen;
  log_.clear();
  return {};
}

}  // namespace twinstep::dataplane
