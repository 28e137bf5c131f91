// Is this machine's KVM hardware-backed (VMX/SVM: every guest runs natively) or
// software (kvm_pvm: ring-0 guest code emulated, Linux cannot boot)? Decides
// which tests run: hwtests/ need hardware-backed KVM.
#pragma once

#include <set>
#include <string>

namespace twinstep::host {

enum class KvmKind { kNone, kSoftware, kHardware };

// Pure: the kind from the names of loaded modules (/sys/module).
KvmKind ClassifyKvmModules(const std::set<std::string>& modules, std::string* why);

// Looks at /dev/kvm and /sys/module; *why says what was found.
KvmKind ProbeKvm(std::string* why);

}  // namespace twinstep::host
