// Machine: device wiring, boot, pause/resume and device state.
#include "host/machine.h"

#include <cstring>

#include "host/boot/loader.h"

namespace twinstep::host {
namespace {

// Ports a PC has and Linux touches (POST 0x80, CMOS/RTC 0x70-0x71): reads 0,
// writes ignored, so that they neither count as unhandled nor read all ones
// (an RTC read of 0xff means "update in progress" forever).
class Sink : public BusDevice {
 public:
  void Read(uint64_t, std::span<uint8_t> d) override { std::memset(d.data(), 0, d.size()); }
  void Write(uint64_t, std::span<const uint8_t>) override {}
};

}  // namespace

Result<std::unique_ptr<Machine>> Machine::Create(const MachineConfig& config) {
  std::unique_ptr<Machine> m(new Machine());
  if (auto s = m->Init(config); !s) return MakeUnexpected(s.error());
  return m;
}

Status Machine::Init(const MachineConfig& config) {
  config_ = config;
  auto vm = Vm::Create(VmConfig{config.mem_bytes, config.vcpus, config.hugepages});
  if (!vm) return MakeUnexpected(vm.error());
  vm_ = std::move(*vm);
  Vm* v = vm_.get();
  auto irq = [v](uint32_t gsi) { return [v, gsi](bool level) { (void)v->SetIrqLine(gsi, level); }; };
  uart_ = std::make_unique<Uart>(config.console_fd, irq(kCom1Irq));
  uart_->set_keep_output(config.keep_console);
  debug_exit_ = std::make_unique<DebugExit>(
      [v](uint32_t code) { v->RequestStop(VmStop{VmStop::Kind::kGuestExit, code, "debug exit"}); });
  pci_ = std::make_unique<PciBus>(vm_->mmio());
  sink_ = std::make_unique<Sink>();
  if (auto s = vm_->pio().Register(kCom1Port, 8, uart_.get()); !s) return s;
  if (auto s = vm_->pio().Register(kDebugExitPort, kDebugExitLen, debug_exit_.get()); !s) return s;
  if (auto s = vm_->pio().Register(kPciConfigPort, 8, pci_.get()); !s) return s;
  if (auto s = vm_->pio().Register(0x80, 1, sink_.get()); !s) return s;
  if (auto s = vm_->pio().Register(0x70, 2, sink_.get()); !s) return s;
  if (config.net != nullptr) {
    net_ = std::make_unique<VirtioNet>(*config.net, config.net_config);
    net_pci_ = std::make_unique<VirtioPci>(*net_, vm_->memory(), kNetIrq, irq(kNetIrq), vm_->vm_fd());
    if (auto s = pci_->Add(kNetPciSlot, net_pci_.get()); !s) return s;
  }
  if (!config.disk.empty()) {
    auto blk = VirtioBlk::Open(config.disk);
    if (!blk) return MakeUnexpected(blk.error());
    blk_ = std::move(*blk);
    blk_pci_ = std::make_unique<VirtioPci>(*blk_, vm_->memory(), kBlkIrq, irq(kBlkIrq), vm_->vm_fd());
    if (auto s = pci_->Add(kBlkPciSlot, blk_pci_.get()); !s) return s;
  }
  return {};
}

Machine::~Machine() {
  if (vm_) vm_->Stop();
  if (net_) net_->Quiesce();
}

Status Machine::Boot(const std::string& kernel_path, const std::string& initrd_path, const std::string& cmdline) {
  auto kernel = ReadFile(kernel_path);
  if (!kernel) return MakeUnexpected(kernel.error());
  std::vector<uint8_t> initrd;
  if (!initrd_path.empty()) {
    auto i = ReadFile(initrd_path);
    if (!i) return MakeUnexpected(i.error());
    initrd = std::move(*i);
  }
  auto r = LoadKernel(*vm_, *kernel, initrd, cmdline);
  if (!r) {
    Error e = r.error();
    e.detail = kernel_path + ": " + e.detail;
    return MakeUnexpected(e);
  }
  return {};
}

Status Machine::Start() { return vm_->Start(); }

void Machine::Pause() {
  vm_->Stop();
  if (net_pci_) net_pci_->Quiesce();
  if (blk_pci_) blk_pci_->Quiesce();
}

Status Machine::Resume() {
  if (net_pci_) net_pci_->Resume();
  if (blk_pci_) blk_pci_->Resume();
  vm_->ClearStop();
  return vm_->Start();
}

void Machine::SaveDevices(ByteWriter& w) {
  uart_->SaveState(w);
  pci_->SaveState(w);
  w.Put(static_cast<uint8_t>(net_pci_ != nullptr));
  if (net_pci_) net_pci_->SaveState(w);
  w.Put(static_cast<uint8_t>(blk_pci_ != nullptr));
  if (blk_pci_) blk_pci_->SaveState(w);
}

Status Machine::LoadDevices(ByteReader& r) {
  if (auto s = uart_->LoadState(r); !s) return s;
  if (auto s = pci_->LoadState(r); !s) return s;
  uint8_t has_net = 0, has_blk = 0;
  r.Get(&has_net);
  if (has_net != (net_pci_ != nullptr)) return Fail(Errc::kSnapshotMismatch, "snapshot and VM differ in having a NIC");
  if (net_pci_) {
    if (auto s = net_pci_->LoadState(r); !s) return s;
  }
  r.Get(&has_blk);
  if (has_blk != (blk_pci_ != nullptr)) return Fail(Errc::kSnapshotMismatch, "snapshot and VM differ in having a disk");
  if (blk_pci_) {
    if (auto s = blk_pci_->LoadState(r); !s) return s;
  }
  if (!r.ok() || !r.at_end()) return Fail(Errc::kSnapshotCorrupt, "device section has the wrong length");
  return {};
}

}  // namespace twinstep::host
