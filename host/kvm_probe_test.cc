// ClassifyKvmModules: which module means which kind of KVM.
#include "host/kvm_probe.h"

#include <gtest/gtest.h>

namespace twinstep::host {
namespace {

TEST(KvmProbeTest, Classifies) {
  std::string why;
  EXPECT_EQ(ClassifyKvmModules({"kvm", "kvm_pvm"}, &why), KvmKind::kSoftware);
  EXPECT_NE(why.find("kvm_pvm"), std::string::npos);
  EXPECT_EQ(ClassifyKvmModules({"kvm", "kvm_intel"}, &why), KvmKind::kHardware);
  EXPECT_EQ(ClassifyKvmModules({"kvm", "kvm_amd"}, &why), KvmKind::kHardware);
  EXPECT_EQ(ClassifyKvmModules({"kvm"}, &why), KvmKind::kNone);
  EXPECT_EQ(ClassifyKvmModules({}, &why), KvmKind::kNone);
}

}  // namespace
}  // namespace twinstep::host
