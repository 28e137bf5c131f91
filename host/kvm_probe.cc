// ProbeKvm: /dev/kvm usability plus the vendor module that provides it.
#include "host/kvm_probe.h"

#include <filesystem>

#include "host/vm.h"

namespace twinstep::host {

KvmKind ClassifyKvmModules(const std::set<std::string>& m, std::string* why) {
  if (m.count("kvm_pvm")) {
    *why = "KVM is kvm_pvm (software): ring-0 guest code is emulated";
    return KvmKind::kSoftware;
  }
  if (m.count("kvm_intel") || m.count("kvm_amd")) {
    *why = std::string("KVM is hardware-backed (") + (m.count("kvm_intel") ? "kvm_intel" : "kvm_amd") + ")";
    return KvmKind::kHardware;
  }
  if (m.count("kvm")) {
    *why = "kvm is loaded but no vendor module (kvm_intel, kvm_amd, kvm_pvm)";
    return KvmKind::kNone;
  }
  *why = "no kvm module";
  return KvmKind::kNone;
}

KvmKind ProbeKvm(std::string* why) {
  if (!KvmUsable(why)) return KvmKind::kNone;
  std::set<std::string> modules;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/sys/module", ec)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("kvm", 0) == 0) modules.insert(n);
  }
  return ClassifyKvmModules(modules, why);
}

}  // namespace twinstep::host
