// VirtioPci: capabilities, the common configuration registers, ISR, notify.
#include "host/devices/virtio_pci.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cstring>

namespace twinstep::host {
namespace {

constexpr uint8_t kCapVendor = 0x09;
constexpr uint8_t kCfgCommon = 1, kCfgNotify = 2, kCfgIsr = 3, kCfgDevice = 4;

}  // namespace

VirtioPci::VirtioPci(VirtioDevice& dev, GuestMemory& mem, uint8_t irq, std::function<void(bool)> set_irq, int vm_fd)
    : dev_(dev), mem_(mem), set_irq_(std::move(set_irq)), vm_fd_(vm_fd), queues_(dev.num_queues()) {
  SetHeader(0x1af4, static_cast<uint16_t>(0x1040 + dev.device_id()), (dev.pci_class() << 8) | 0x01, 0x1af4,
            dev.device_id());
  Set16(0x06, 0x0010);  // status: capability list
  Set8(0x34, 0x40);
  Set8(0x3c, irq);
  Set8(0x3d, 1);  // INTA#
  struct Cap {
    uint8_t at, type;
    uint32_t offset, length;
  };
  const Cap caps[] = {{0x40, kCfgCommon, kVirtioCommonCfg, 0x38},
                      {0x50, kCfgIsr, kVirtioIsr, 1},
                      {0x60, kCfgDevice, kVirtioDeviceCfg, 0x100},
                      {0x70, kCfgNotify, kVirtioNotify, 0x1000}};
  for (const Cap& c : caps) {
    Set8(c.at, kCapVendor);
    Set8(c.at + 1, c.at == 0x70 ? 0 : static_cast<uint8_t>(c.at + 0x10));
    Set8(c.at + 2, c.type == kCfgNotify ? 20 : 16);
    Set8(c.at + 3, c.type);
    Set8(c.at + 4, 0);  // BAR 0
    Set32(c.at + 8, c.offset);
    Set32(c.at + 12, c.length);
  }
  Set32(0x70 + 16, kVirtioNotifyMultiplier);
  SetBar(0, kVirtioBarSize, this);
}

VirtioPci::~VirtioPci() {
  std::lock_guard l(mu_);
  DisarmIoeventfds();
}

void VirtioPci::ArmIoeventfds() {
  if (vm_fd_ < 0 || !armed_.empty()) return;
  uint32_t bar0;
  std::memcpy(&bar0, config().data() + 0x10, 4);
  for (uint16_t q = 0; q < queues_.size(); ++q) {
    const int fd = dev_.NotifyEventFd(q);
    if (fd < 0) continue;
    kvm_ioeventfd io{};
    io.addr = uint64_t{bar0} + kVirtioNotify + q * kVirtioNotifyMultiplier;
    io.len = 2;  // the driver writes the 16-bit queue index
    io.fd = fd;
    // io describes an MMIO range inside this function's BAR; fd outlives the registration.
    if (ioctl(vm_fd_, KVM_IOEVENTFD, &io) == 0) armed_.push_back({io.addr, fd});
  }
}

void VirtioPci::DisarmIoeventfds() {
  for (const Armed& a : armed_) {
    kvm_ioeventfd io{};
    io.addr = a.addr;
    io.len = 2;
    io.fd = a.fd;
    io.flags = KVM_IOEVENTFD_FLAG_DEASSIGN;
    (void)ioctl(vm_fd_, KVM_IOEVENTFD, &io);
  }
  armed_.clear();
}

void VirtioPci::Read(uint64_t offset, std::span<uint8_t> data) {
  std::memset(data.data(), 0, data.size());
  if (offset < kVirtioIsr) {
    std::lock_guard l(mu_);
    ReadCommon(offset, data);
  } else if (offset == kVirtioIsr) {
    std::lock_guard l(mu_);
    data[0] = isr_.exchange(0);  // reading ISR acknowledges and lowers INTx
    set_irq_(false);
  } else if (offset >= kVirtioDeviceCfg && offset < kVirtioNotify) {
    dev_.ReadConfig(offset - kVirtioDeviceCfg, data);
  }
}

void VirtioPci::ReadCommon(uint64_t off, std::span<uint8_t> data) {
  uint64_t v = 0;
  const Virtqueue* q = queue_select_ < queues_.size() ? &queues_[queue_select_] : nullptr;
  switch (off) {
    case 0x00: v = device_feature_select_; break;
    case 0x04:
      v = device_feature_select_ == 0 ? (dev_.features() & 0xffffffff)
          : device_feature_select_ == 1 ? (dev_.features() >> 32) : 0;
      break;
    case 0x08: v = driver_feature_select_; break;
    case 0x0c: v = driver_feature_select_ == 0 ? (driver_features_ & 0xffffffff) : (driver_features_ >> 32); break;
    case 0x10: v = 0xffff; break;  // msix_config: no MSI-X
    case 0x12: v = queues_.size(); break;
    case 0x14: v = status_ | (needs_reset_.load() ? kVirtioStatusNeedsReset : 0); break;
    case 0x15: v = config_generation_; break;
    case 0x16: v = queue_select_; break;
    case 0x18: v = q ? q->size : 0; break;
    case 0x1a: v = 0xffff; break;
    case 0x1c: v = q ? q->enabled : 0; break;
    case 0x1e: v = q ? queue_select_ : 0; break;  // notify offset = queue index
    case 0x20: v = q ? q->desc_gpa : 0; break;
    case 0x24: v = q ? q->desc_gpa >> 32 : 0; break;
    case 0x28: v = q ? q->avail_gpa : 0; break;
    case 0x2c: v = q ? q->avail_gpa >> 32 : 0; break;
    case 0x30: v = q ? q->used_gpa : 0; break;
    case 0x34: v = q ? q->used_gpa >> 32 : 0; break;
    default: break;
  }
  std::memcpy(data.data(), &v, std::min<size_t>(data.size(), 8));
}

void VirtioPci::Write(uint64_t offset, std::span<const uint8_t> data) {
  uint64_t v = 0;
  std::memcpy(&v, data.data(), std::min<size_t>(data.size(), 8));
  if (offset < kVirtioIsr) {
    std::lock_guard l(mu_);
    WriteCommon(offset, v, data.size());
  } else if (offset >= kVirtioNotify && offset < kVirtioBarSize) {
    const uint64_t qi = (offset - kVirtioNotify) / kVirtioNotifyMultiplier;
    if (qi < queues_.size() && driver_ok()) dev_.Notify(static_cast<uint16_t>(qi));
  }
}

void VirtioPci::WriteCommon(uint64_t off, uint64_t v, size_t) {
  Virtqueue* q = queue_select_ < queues_.size() ? &queues_[queue_select_] : nullptr;
  // Queue registers are frozen once the queue is enabled (virtio 1.0, 4.1.4.3).
  const bool q_writable = q != nullptr && !q->enabled;
  auto set_lo = [v](uint64_t& r) { r = (r & ~0xffffffffull) | (v & 0xffffffff); };
  auto set_hi = [v](uint64_t& r) { r = (r & 0xffffffff) | (v << 32); };
  switch (off) {
    case 0x00: device_feature_select_ = static_cast<uint32_t>(v); break;
    case 0x08: driver_feature_select_ = static_cast<uint32_t>(v); break;
    case 0x0c:
      if (status_ & kVirtioStatusFeaturesOk) break;
      if (driver_feature_select_ == 0) set_lo(driver_features_);
      if (driver_feature_select_ == 1) set_hi(driver_features_);
      break;
    case 0x14: {
      const uint8_t s = static_cast<uint8_t>(v);
      if (s == 0) {
        ResetDevice();
        break;
      }
      if ((s & kVirtioStatusFeaturesOk) && !(status_ & kVirtioStatusFeaturesOk)) {
        // Accept only offered features, and only with VERSION_1.
        if ((driver_features_ & ~dev_.features()) || !(driver_features_ & kVirtioF_Version1)) {
          status_ = static_cast<uint8_t>(s & ~kVirtioStatusFeaturesOk);
          break;
        }
      }
      const bool going_live = (s & kVirtioStatusDriverOk) && !(status_ & kVirtioStatusDriverOk);
      status_ = s;
      if (going_live) {
        const bool event_idx = (driver_features_ & kVirtioF_RingEventIdx) != 0;
        for (Virtqueue& vq : queues_) {
          if (vq.enabled && !vq.Activate(mem_, event_idx)) {
            status_ |= kVirtioStatusNeedsReset;
            return;
          }
        }
        ArmIoeventfds();
        dev_.Activate(*this);
      }
      break;
    }
    case 0x16: queue_select_ = static_cast<uint16_t>(v); break;
    case 0x18:
      if (q_writable && v != 0 && v <= Virtqueue::kMaxSize && (v & (v - 1)) == 0) q->size = static_cast<uint16_t>(v);
      break;
    case 0x1c:
      if (q != nullptr && v == 1) q->enabled = true;
      break;
    case 0x20: if (q_writable) set_lo(q->desc_gpa); break;
    case 0x24: if (q_writable) set_hi(q->desc_gpa); break;
    case 0x28: if (q_writable) set_lo(q->avail_gpa); break;
    case 0x2c: if (q_writable) set_hi(q->avail_gpa); break;
    case 0x30: if (q_writable) set_lo(q->used_gpa); break;
    case 0x34: if (q_writable) set_hi(q->used_gpa); break;
    default: break;
  }
}

void VirtioPci::ResetDevice() {
  DisarmIoeventfds();
  dev_.Quiesce();
  for (Virtqueue& q : queues_) q.Reset();
  status_ = 0;
  needs_reset_.store(false);
  driver_features_ = 0;
  queue_select_ = 0;
  isr_.store(0);
  set_irq_(false);
}

void VirtioPci::Interrupt() {
  isr_.fetch_or(1);
  set_irq_(true);
}

void VirtioPci::SetNeedsReset() {
  // No lock: called from device workers, which ResetDevice joins under mu_.
  needs_reset_.store(true);
  isr_.fetch_or(2);  // configuration change
  set_irq_(true);
}

void VirtioPci::Quiesce() { dev_.Quiesce(); }

void VirtioPci::Resume() {
  std::lock_guard l(mu_);
  if (driver_ok() && !(status_ & kVirtioStatusNeedsReset) && !needs_reset_.load()) {
    ArmIoeventfds();  // after a restore the BAR may sit elsewhere than at boot
    dev_.Activate(*this);
  }
}

void VirtioPci::SaveState(ByteWriter& w) {
  std::lock_guard l(mu_);
  w.Put(device_feature_select_);
  w.Put(driver_feature_select_);
  w.Put(driver_features_);
  w.Put(status_);
  w.Put(config_generation_);
  w.Put(queue_select_);
  w.Put(isr_.load());
  w.Put(static_cast<uint16_t>(queues_.size()));
  for (const Virtqueue& q : queues_) q.SaveState(w);
  dev_.SaveState(w);
}

Status VirtioPci::LoadState(ByteReader& r) {
  std::lock_guard l(mu_);
  uint8_t isr = 0;
  uint16_t nq = 0;
  r.Get(&device_feature_select_);
  r.Get(&driver_feature_select_);
  r.Get(&driver_features_);
  r.Get(&status_);
  r.Get(&config_generation_);
  r.Get(&queue_select_);
  r.Get(&isr);
  r.Get(&nq);
  if (!r.ok()) return Fail(Errc::kSnapshotCorrupt, "virtio transport state is truncated");
  if (nq != queues_.size()) return Fail(Errc::kSnapshotMismatch, "virtio device has " + std::to_string(queues_.size()) +
                                                                    " queues, the snapshot " + std::to_string(nq));
  const bool event_idx = (driver_features_ & kVirtioF_RingEventIdx) != 0;
  for (Virtqueue& q : queues_) {
    if (!q.LoadState(r)) return Fail(Errc::kSnapshotCorrupt, "virtqueue state is truncated or invalid");
    if (driver_ok() && q.enabled && !q.Activate(mem_, event_idx)) {
      return Fail(Errc::kSnapshotMismatch, "restored virtqueue rings lie outside guest RAM");
    }
  }
  isr_.store(isr);
  set_irq_(isr != 0);
  return dev_.LoadState(r);
}

}  // namespace twinstep::host
