// PciBus: mechanism-1 decoding, BAR sizing and remapping, the host bridge.
#include "host/devices/pci.h"

#include <cstring>
#include <string>

namespace twinstep::host {
namespace {

constexpr uint8_t kBar0 = 0x10;

uint32_t Get32(const std::array<uint8_t, 256>& c, uint8_t off) {
  uint32_t v;
  std::memcpy(&v, c.data() + off, 4);
  return v;
}

}  // namespace

void PciDevice::Set16(uint8_t off, uint16_t v) { std::memcpy(config_.data() + off, &v, 2); }
void PciDevice::Set32(uint8_t off, uint32_t v) { std::memcpy(config_.data() + off, &v, 4); }

void PciDevice::SetHeader(uint16_t vendor, uint16_t device, uint32_t class_rev, uint16_t subsys_vendor,
                          uint16_t subsys_id) {
  Set16(0x00, vendor);
  Set16(0x02, device);
  Set32(0x08, class_rev);
  Set16(0x2c, subsys_vendor);
  Set16(0x2e, subsys_id);
}

void PciDevice::SetBar(int n, uint64_t size, BusDevice* dev) {
  bar_size_[n] = size;
  bar_dev_[n] = dev;
}

bool PciDevice::Writable(uint8_t offset) const {
  return offset == 0x04 || offset == 0x05 || offset == 0x0c || offset == 0x0d || offset == 0x3c;
}

PciBus::HostBridge::HostBridge() { SetHeader(0x8086, 0x29c0, 0x06000000, 0x1af4, 0x1100); }

PciBus::PciBus(Bus& mmio) : mmio_(mmio) { slots_[0] = &bridge_; }

Status PciBus::Add(uint8_t slot, PciDevice* dev) {
  if (slot == 0 || slot >= 32 || slots_[slot] != nullptr) {
    return Fail(Errc::kDevice, "PCI slot " + std::to_string(slot) + " is taken or out of range");
  }
  for (int n = 0; n < 6; ++n) {
    const uint64_t size = dev->bar_size(n);
    if (size == 0) continue;
    next_mmio_ = (next_mmio_ + size - 1) & ~(size - 1);
    if (next_mmio_ + size > kPciMmioEnd) return Fail(Errc::kDevice, "PCI MMIO window is full");
    if (auto s = mmio_.Register(next_mmio_, size, dev->bar_device(n)); !s) return s;
    std::memcpy(dev->config().data() + kBar0 + 4 * n, &next_mmio_, 4);
    next_mmio_ += size;
  }
  std::lock_guard l(mu_);
  slots_[slot] = dev;
  return {};
}

PciDevice* PciBus::Selected(uint8_t* reg) {
  // Enabled, bus 0, function 0 only.
  if (!(address_ & 0x80000000u) || ((address_ >> 16) & 0xff) != 0 || ((address_ >> 8) & 7) != 0) return nullptr;
  *reg = static_cast<uint8_t>(address_ & 0xfc);
  return slots_[(address_ >> 11) & 0x1f];
}

void PciBus::Read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard l(mu_);
  if (offset < 4) {
    if (offset == 0 && data.size() == 4) {
      std::memcpy(data.data(), &address_, 4);
    } else {
      std::memset(data.data(), 0, data.size());
    }
    return;
  }
  uint8_t reg = 0;
  PciDevice* d = Selected(&reg);
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = d == nullptr ? 0xff : d->config()[(reg + offset - 4 + i) & 0xff];
  }
}

void PciBus::Write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard l(mu_);
  if (offset < 4) {
    if (offset == 0 && data.size() == 4) std::memcpy(&address_, data.data(), 4);
    return;  // byte writes to 0xCFB (mechanism-2 probing) are ignored
  }
  uint8_t reg = 0;
  PciDevice* d = Selected(&reg);
  if (d == nullptr) return;
  const uint8_t slot = static_cast<uint8_t>((address_ >> 11) & 0x1f);
  const uint8_t first = static_cast<uint8_t>(reg + offset - 4);
  if (first >= kBar0 && first < kBar0 + 24) {
    // BARs are written whole: sizing (all ones) reads back ~(size - 1).
    const int n = (first - kBar0) / 4;
    const uint32_t old_addr = Get32(d->config(), static_cast<uint8_t>(kBar0 + 4 * n));
    uint32_t v = old_addr;
    std::memcpy(reinterpret_cast<uint8_t*>(&v) + (first & 3), data.data(), std::min<size_t>(data.size(), 4 - (first & 3)));
    const uint64_t size = d->bar_size(n);
    v = size == 0 ? 0 : (v & ~static_cast<uint32_t>(size - 1));
    std::memcpy(d->config().data() + kBar0 + 4 * n, &v, 4);
    if (size != 0 && v != old_addr) RemapBar(slot, d, n, old_addr);
    return;
  }
  for (size_t i = 0; i < data.size(); ++i) WriteConfig(slot, d, static_cast<uint8_t>(first + i), data[i]);
}

void PciBus::WriteConfig(uint8_t, PciDevice* d, uint8_t reg, uint8_t v) {
  if (d->Writable(reg)) d->config()[reg] = v;
}

void PciBus::RemapBar(uint8_t, PciDevice* d, int n, uint32_t old_addr) {
  // While sizing, the BAR holds ~(size-1), inside the top of the address space:
  // only addresses in the MMIO window are mapped.
  const uint32_t addr = Get32(d->config(), static_cast<uint8_t>(kBar0 + 4 * n));
  mmio_.Unregister(old_addr);
  if (addr >= 0xc0000000u && uint64_t{addr} + d->bar_size(n) <= kPciMmioEnd) {
    (void)mmio_.Register(addr, d->bar_size(n), d->bar_device(n));  // an overlap leaves the BAR unmapped
  }
}

void PciBus::SaveState(ByteWriter& w) {
  std::lock_guard l(mu_);
  w.Put(address_);
  for (PciDevice* d : slots_) {
    if (d != nullptr) w.Put(d->config());
  }
}

Status PciBus::LoadState(ByteReader& r) {
  std::lock_guard l(mu_);
  uint32_t address = 0;
  r.Get(&address);
  std::vector<std::array<uint8_t, 256>> configs;
  for (PciDevice* d : slots_) {
    if (d == nullptr) continue;
    std::array<uint8_t, 256> c;
    if (!r.Get(&c)) return Fail(Errc::kSnapshotMismatch, "PCI state has fewer functions than this VM");
    if (std::memcmp(c.data(), d->config().data(), 4) != 0) {
      return Fail(Errc::kSnapshotMismatch, "PCI function's vendor/device differs from this VM's");
    }
    configs.push_back(c);
  }
  size_t i = 0;
  address_ = address;
  for (uint8_t slot = 0; slot < 32; ++slot) {
    PciDevice* d = slots_[slot];
    if (d == nullptr) continue;
    std::array<uint32_t, 6> old_bars;
    for (int n = 0; n < 6; ++n) old_bars[n] = Get32(d->config(), static_cast<uint8_t>(kBar0 + 4 * n));
    d->config() = configs[i++];
    for (int n = 0; n < 6; ++n) {
      if (d->bar_size(n) != 0 && Get32(d->config(), static_cast<uint8_t>(kBar0 + 4 * n)) != old_bars[n]) {
        RemapBar(slot, d, n, old_bars[n]);
      }
    }
  }
  return {};
}

}  // namespace twinstep::host
