// VirtioNet: the worker loop, TX gather and RX scatter with the net header.
#include "host/devices/virtio_net.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>

namespace twinstep::host {
namespace {

constexpr size_t kNetHdrSize = 12;  // virtio_net_hdr with num_buffers (VERSION_1)
constexpr size_t kMaxFrame = 65536;
constexpr uint16_t kRxQueue = 0, kTxQueue = 1;

}  // namespace

VirtioNet::VirtioNet(NetBackend& backend, VirtioNetConfig config)
    : backend_(backend), config_(config), tx_buf_(kMaxFrame + kNetHdrSize), rx_buf_(kMaxFrame) {
  kick_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

VirtioNet::~VirtioNet() {
  Quiesce();
  if (kick_fd_ >= 0) close(kick_fd_);
}

void VirtioNet::ReadConfig(uint64_t offset, std::span<uint8_t> data) {
  uint8_t cfg[8] = {};
  std::memcpy(cfg, config_.mac.data(), 6);
  cfg[6] = 1;  // status: link up (read only with VIRTIO_NET_F_STATUS, harmless otherwise)
  for (size_t i = 0; i < data.size(); ++i) data[i] = offset + i < sizeof cfg ? cfg[offset + i] : 0;
}

void VirtioNet::Activate(VirtioPci& transport) {
  Quiesce();
  transport_ = &transport;
  stop_.store(false);
  worker_ = std::thread([this] { Worker(); });
}

void VirtioNet::Notify(uint16_t) {
  counters_.notifies.fetch_add(1, std::memory_order_relaxed);  // MMIO path only: ioeventfd kicks are not seen here
  Kick();
}

void VirtioNet::Kick() {
  const uint64_t one = 1;
  (void)!write(kick_fd_, &one, sizeof one);
}

void VirtioNet::Quiesce() {
  if (!worker_.joinable()) return;
  stop_.store(true);
  Kick();
  worker_.join();
}

void VirtioNet::Wait(int timeout_ms) {
  pollfd fds[2] = {{kick_fd_, POLLIN, 0}, {backend_.ReadableFd(), POLLIN, 0}};
  const nfds_t n = fds[1].fd >= 0 && rx_len_ == 0 ? 2 : 1;
  if (n == 2 && !backend_.ArmReadable()) return;  // a frame is already there
  if (poll(fds, n, timeout_ms) > 0 && (fds[0].revents & POLLIN)) {
    uint64_t v;
    (void)!read(kick_fd_, &v, sizeof v);
  }
}

void VirtioNet::Worker() {
  Virtqueue& rxq = transport_->queue(kRxQueue);
  Virtqueue& txq = transport_->queue(kTxQueue);
  const bool polling = config_.polling;
  rxq.SuppressNotifications(polling);
  txq.SuppressNotifications(polling);
  uint32_t idle = 0;
  while (!stop_.load(std::memory_order_relaxed)) {
    const bool did = ProcessTx(txq) | ProcessRx(rxq);
    if (txq.broken() || rxq.broken()) {
      transport_->SetNeedsReset();
      return;
    }
    if (did) {
      idle = 0;
      continue;
    }
    if (polling && ++idle < config_.spin_iterations) {
      __builtin_ia32_pause();
      continue;
    }
    idle = 0;
    if (polling) {
      // Idle: let the guest kick us while we nap, so a TX after a quiet spell
      // costs one exit instead of up to a nap's latency. Re-check after enabling.
      txq.SuppressNotifications(false);
      if (!txq.HasAvailable()) Wait(1);
      txq.SuppressNotifications(true);
    } else {
      Wait(100);  // until a kick or a frame
    }
  }
  // Suppression is left as it is: the rings belong to the guest from here.
}

bool VirtioNet::ProcessTx(Virtqueue& q) {
  bool did = false;
  VirtqChain c;
  while (q.Pop(&c)) {
    size_t n = 0;
    for (const VirtqBuffer& b : c.bufs) {
      if (b.device_writes) continue;
      const size_t take = std::min<size_t>(b.len, tx_buf_.size() - n);
      std::memcpy(tx_buf_.data() + n, b.host, take);
      n += take;
    }
    if (n > kNetHdrSize) {
      const NetStatus st = backend_.Send({tx_buf_.data() + kNetHdrSize, n - kNetHdrSize});
      if (st == NetStatus::kAgain) {
        q.Unpop();  // back-pressure: retry this chain later
        break;
      }
      (st == NetStatus::kOk ? counters_.tx_frames : counters_.tx_dropped).fetch_add(1, std::memory_order_relaxed);
    } else {
      counters_.tx_dropped.fetch_add(1, std::memory_order_relaxed);
    }
    q.Push(c.head, 0);
    did = true;
  }
  if (did && q.NeedInterrupt()) {
    counters_.interrupts.fetch_add(1, std::memory_order_relaxed);
    transport_->Interrupt();
  }
  return did;
}

bool VirtioNet::ProcessRx(Virtqueue& q) {
  bool did = false;
  VirtqChain c;
  while (q.HasAvailable()) {
    if (rx_len_ == 0) {
      const NetStatus st = backend_.Receive(rx_buf_, &rx_len_);
      if (st == NetStatus::kAgain) break;
      if (st == NetStatus::kError) {
        rx_len_ = 0;
        counters_.rx_dropped.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
    }
    if (!q.Pop(&c)) break;
    uint8_t hdr[kNetHdrSize] = {};
    hdr[10] = 1;  // num_buffers
    const uint8_t* parts[2] = {hdr, rx_buf_.data()};
    const size_t lens[2] = {kNetHdrSize, rx_len_};
    size_t part = 0, part_off = 0, written = 0;
    for (const VirtqBuffer& b : c.bufs) {
      if (!b.device_writes) continue;
      size_t boff = 0;
      while (part < 2 && boff < b.len) {
        const size_t take = std::min<size_t>(b.len - boff, lens[part] - part_off);
        std::memcpy(b.host + boff, parts[part] + part_off, take);
        transport_->memory().MarkDirty(b.gpa + boff, take);
        boff += take;
        part_off += take;
        written += take;
        if (part_off == lens[part]) {
          ++part;
          part_off = 0;
        }
      }
    }
    if (part < 2) {
      counters_.rx_dropped.fetch_add(1, std::memory_order_relaxed);  // the buffer was too small
      written = 0;
    } else {
      counters_.rx_frames.fetch_add(1, std::memory_order_relaxed);
    }
    rx_len_ = 0;
    q.Push(c.head, static_cast<uint32_t>(written));
    did = true;
  }
  if (did && q.NeedInterrupt()) {
    counters_.interrupts.fetch_add(1, std::memory_order_relaxed);
    transport_->Interrupt();
  }
  return did;
}

void VirtioNet::SaveState(ByteWriter& w) {
  w.Put(config_.mac);
  w.PutBytes({rx_buf_.data(), rx_len_});  // a frame taken from the backend, not yet delivered
}

Status VirtioNet::LoadState(ByteReader& r) {
  std::array<uint8_t, 6> mac;
  std::vector<uint8_t> pending;
  r.Get(&mac);
  r.GetBytes(&pending, kMaxFrame);
  if (!r.ok()) return Fail(Errc::kSnapshotCorrupt, "virtio-net state is truncated");
  config_.mac = mac;
  std::memcpy(rx_buf_.data(), pending.data(), pending.size());
  rx_len_ = pending.size();
  return {};
}

}  // namespace twinstep::host
