// The virtio 1.0 PCI transport ("modern"): vendor 0x1AF4, device 0x1040 + id,
// the common, notify, ISR and device-config capabilities in memory BAR 0, INTx
// interrupts. A VirtioDevice (net, blk) supplies features, config and queues work.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <vector>

#include "host/devices/pci.h"
#include "host/devices/virtqueue.h"
#include "host/memory.h"

namespace twinstep::host {

inline constexpr uint64_t kVirtioF_Version1 = 1ull << 32;
inline constexpr uint64_t kVirtioF_RingEventIdx = 1ull << 29;
inline constexpr uint8_t kVirtioStatusDriverOk = 4, kVirtioStatusFeaturesOk = 8, kVirtioStatusNeedsReset = 64;

// BAR 0 layout.
inline constexpr uint64_t kVirtioCommonCfg = 0x0000;
inline constexpr uint64_t kVirtioIsr = 0x1000;
inline constexpr uint64_t kVirtioDeviceCfg = 0x2000;
inline constexpr uint64_t kVirtioNotify = 0x3000;
inline constexpr uint32_t kVirtioNotifyMultiplier = 4;
inline constexpr uint64_t kVirtioBarSize = 0x4000;

class VirtioPci;

// What a device type provides. Calls come from vCPU threads under the
// transport's lock, except where a device runs its own worker.
class VirtioDevice {
 public:
  virtual ~VirtioDevice() = default;
  virtual uint16_t device_id() const = 0;       // 1 net, 2 blk
  virtual uint32_t pci_class() const = 0;
  virtual uint64_t features() const = 0;        // offered, VERSION_1 included
  virtual uint16_t num_queues() const = 0;
  virtual void ReadConfig(uint64_t offset, std::span<uint8_t> data) = 0;
  // The driver set DRIVER_OK: queues are active. Also called after a restore.
  virtual void Activate(VirtioPci& transport) = 0;
  // The driver wrote queue's notify address (vCPU thread).
  virtual void Notify(uint16_t queue) = 0;
  // An eventfd KVM signals instead of exiting to us when the driver writes
  // queue's notify address (KVM_IOEVENTFD), or -1 to take the MMIO exit.
  virtual int NotifyEventFd(uint16_t) { return -1; }
  // Stops using the queues (device reset, pause for a snapshot).
  virtual void Quiesce() = 0;
  virtual void SaveState(ByteWriter& w) = 0;
  virtual Status LoadState(ByteReader& r) = 0;
};

class VirtioPci : public PciDevice, public BusDevice {
 public:
  // set_irq drives the function's INTx line (gsi irq). vm_fd >= 0 lets the
  // transport register the device's notify eventfds with KVM.
  VirtioPci(VirtioDevice& dev, GuestMemory& mem, uint8_t irq, std::function<void(bool)> set_irq, int vm_fd = -1);
  ~VirtioPci() override;

  void Read(uint64_t offset, std::span<uint8_t> data) override;
  void Write(uint64_t offset, std::span<const uint8_t> data) override;

  GuestMemory& memory() { return mem_; }
  Virtqueue& queue(uint16_t i) { return queues_[i]; }
  uint64_t driver_features() const { return driver_features_; }
  bool driver_ok() const { return (status_ & kVirtioStatusDriverOk) != 0; }
  // Sets ISR bit 0 and raises INTx (any thread).
  void Interrupt();
  // Marks the device broken (a malformed ring): DEVICE_NEEDS_RESET.
  void SetNeedsReset();

  // Pause / resume the device around a snapshot.
  void Quiesce();
  void Resume();
  void SaveState(ByteWriter& w);
  Status LoadState(ByteReader& r);

 private:
  void ReadCommon(uint64_t off, std::span<uint8_t> data);
  void WriteCommon(uint64_t off, uint64_t v, size_t len);
  void ResetDevice();
  void SetIsr(uint8_t isr);  // with mu_ held
  // Registers / removes the notify eventfds at the current BAR 0 (mu_ held).
  void ArmIoeventfds();
  void DisarmIoeventfds();

  VirtioDevice& dev_;
  GuestMemory& mem_;
  std::function<void(bool)> set_irq_;
  struct Armed {
    uint64_t addr;
    int fd;
  };
  int vm_fd_;
  std::vector<Armed> armed_;
  std::mutex mu_;
  uint32_t device_feature_select_ = 0, driver_feature_select_ = 0;
  uint64_t driver_features_ = 0;
  uint8_t status_ = 0;
  uint8_t config_generation_ = 0;
  uint16_t queue_select_ = 0;
  std::atomic<uint8_t> isr_{0};
  std::atomic<bool> needs_reset_{false};
  std::vector<Virtqueue> queues_;
};

}  // namespace twinstep::host
