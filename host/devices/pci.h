// PCI bus 0 behind configuration mechanism 1 (ports 0xCF8/0xCFC), with a host
// bridge at 00:00.0 and memory BARs the VMM assigns in the 3-4 GiB hole.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <vector>

#include "host/bus.h"
#include "host/error.h"
#include "host/snapshot/codec.h"

namespace twinstep::host {

inline constexpr uint16_t kPciConfigPort = 0xcf8;  // 0xCF8 address, 0xCFC data
inline constexpr uint64_t kPciMmioBase = 0xe0000000;
inline constexpr uint64_t kPciMmioEnd = 0xfec00000;  // the IOAPIC

// One PCI function: 256 bytes of configuration space and up to six 32-bit
// memory BARs. Subclasses fill the header and say which bytes the guest may write.
class PciDevice {
 public:
  virtual ~PciDevice() = default;
  std::array<uint8_t, 256>& config() { return config_; }
  // Declares BAR n (32-bit memory, size a power of two >= 4 KiB) served by dev.
  void SetBar(int n, uint64_t size, BusDevice* dev);
  uint64_t bar_size(int n) const { return bar_size_[n]; }
  BusDevice* bar_device(int n) const { return bar_dev_[n]; }
  // Byte offsets the guest may write besides BARs (command, latency, IRQ line).
  virtual bool Writable(uint8_t offset) const;

 protected:
  void Set8(uint8_t off, uint8_t v) { config_[off] = v; }
  void Set16(uint8_t off, uint16_t v);
  void Set32(uint8_t off, uint32_t v);
  void SetHeader(uint16_t vendor, uint16_t device, uint32_t class_rev, uint16_t subsys_vendor, uint16_t subsys_id);

 private:
  std::array<uint8_t, 256> config_{};
  std::array<uint64_t, 6> bar_size_{};
  std::array<BusDevice*, 6> bar_dev_{};
};

class PciBus : public BusDevice {
 public:
  explicit PciBus(Bus& mmio);
  // Puts dev at 00:slot.0 and maps its BARs at fresh addresses.
  Status Add(uint8_t slot, PciDevice* dev);

  void Read(uint64_t offset, std::span<uint8_t> data) override;
  void Write(uint64_t offset, std::span<const uint8_t> data) override;

  // Config spaces and the address latch (BAR mappings follow the restored BARs).
  void SaveState(ByteWriter& w);
  Status LoadState(ByteReader& r);

 private:
  PciDevice* Selected(uint8_t* reg);
  void WriteConfig(uint8_t slot, PciDevice* d, uint8_t reg, uint8_t v);
  void RemapBar(uint8_t slot, PciDevice* d, int n, uint32_t old_addr);

  class HostBridge : public PciDevice {
   public:
    HostBridge();
  };

  Bus& mmio_;
  std::mutex mu_;
  uint32_t address_ = 0;
  HostBridge bridge_;
  std::array<PciDevice*, 32> slots_{};
  uint64_t next_mmio_ = kPciMmioBase;
};

}  // namespace twinstep::host
