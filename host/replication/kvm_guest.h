// The KVM machine (host/machine.h) as a replicated guest: boots the test
// guest or Linux, checkpoints through state_image.h.
#pragma once

#include <string>

#include "host/machine.h"
#include "host/replication/guest.h"

namespace twinstep::replication {

class KvmGuest final : public ReplicatedGuest {
 public:
  KvmGuest(host::Machine& machine, std::string kernel, std::string initrd, std::string cmdline)
      : machine_(machine), kernel_(std::move(kernel)), initrd_(std::move(initrd)), cmdline_(std::move(cmdline)) {}

  host::GuestMemory& memory() override { return machine_.vm().memory(); }
  host::Status Boot() override { return machine_.Boot(kernel_, initrd_, cmdline_); }
  host::Status Resume() override { return machine_.Resume(); }
  void Pause() override { machine_.Pause(); }
  host::Result<std::vector<uint64_t>> DirtyPages() override { return machine_.vm().DirtyPages(); }
  host::Result<std::vector<uint8_t>> EncodeCheckpoint(std::span<const uint64_t> gfns,
                                                      std::span<const uint8_t> extra) override;
  host::Status ApplyCheckpoint(std::span<const uint8_t> image, std::vector<uint8_t>* extra) override;

 private:
  host::Machine& machine_;
  std::string kernel_, initrd_, cmdline_;
};

}  // namespace twinstep::replication
