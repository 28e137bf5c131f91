// A whole machine: the VM plus its devices (UART console, debug-exit port,
// PCI host bridge, virtio-net, virtio-blk), booted from a kernel file, with
// pause/resume around snapshots. What `twinstep vm` and the tests run.
#pragma once

#include <memory>
#include <string>

#include "host/devices/debug_exit.h"
#include "host/devices/net_backend.h"
#include "host/devices/pci.h"
#include "host/devices/uart.h"
#include "host/devices/virtio_blk.h"
#include "host/devices/virtio_net.h"
#include "host/devices/virtio_pci.h"
#include "host/error.h"
#include "host/vm.h"

namespace twinstep::host {

inline constexpr uint8_t kNetPciSlot = 2, kBlkPciSlot = 3;
inline constexpr uint8_t kNetIrq = 10, kBlkIrq = 11;

struct MachineConfig {
  uint64_t mem_bytes = 256ull << 20;
  uint32_t vcpus = 1;
  bool hugepages = false;    // guest RAM on hugetlb pages
  int console_fd = 1;         // UART output; -1 for none
  bool keep_console = false;  // keep UART output for Uart::output()
  std::string disk;           // raw image for virtio-blk; empty: no disk
  NetBackend* net = nullptr;  // virtio-net backend (not owned); null: no NIC
  VirtioNetConfig net_config;
};

class Machine {
 public:
  static Result<std::unique_ptr<Machine>> Create(const MachineConfig& config);
  ~Machine();

  // Loads a PVH ELF or a bzImage (+ initramfs) and points vCPU 0 at it.
  Status Boot(const std::string& kernel_path, const std::string& initrd_path, const std::string& cmdline);

  Vm& vm() { return *vm_; }
  Uart& uart() { return *uart_; }
  VirtioNet* net() { return net_.get(); }
  VirtioBlk* blk() { return blk_.get(); }
  const MachineConfig& config() const { return config_; }

  Status Start();
  // Stops the vCPUs and quiesces the devices: the state is still.
  void Pause();
  // Resumes devices and vCPUs after Pause (or after a restore).
  Status Resume();

  // Device state for snapshots (see host/snapshot/).
  void SaveDevices(ByteWriter& w);
  Status LoadDevices(ByteReader& r);

 private:
  Machine() = default;
  Status Init(const MachineConfig& config);

  MachineConfig config_;
  std::unique_ptr<Vm> vm_;
  std::unique_ptr<Uart> uart_;
  std::unique_ptr<DebugExit> debug_exit_;
  std::unique_ptr<PciBus> pci_;
  std::unique_ptr<VirtioNet> net_;
  std::unique_ptr<VirtioPci> net_pci_;
  std::unique_ptr<VirtioBlk> blk_;
  std::unique_ptr<VirtioPci> blk_pci_;
  std::unique_ptr<BusDevice> sink_;
};

}  // namespace twinstep::host
