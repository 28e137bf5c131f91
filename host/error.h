// The VMM's errors: one code per kind of failure, each with its message, plus
// the detail (what and where) that the caller adds.
#pragma once

#include <string>
#include <utility>

#include "common/expected.h"

namespace twinstep::host {

enum class Errc {
  kKvmUnavailable,     // /dev/kvm missing or not openable
  kKvmApi,             // wrong KVM API version or a missing capability
  kKvmIoctl,           // a KVM ioctl failed
  kMemory,             // guest memory could not be created or mapped
  kGuestAddress,       // a guest-physical range outside guest RAM
  kKernelImage,        // a kernel image (ELF or bzImage) is malformed
  kBoot,               // the boot layout does not fit guest memory
  kIo,                 // a host file or device could not be read or written
  kSnapshotCorrupt,    // a snapshot's magic, table or a checksum is wrong
  kSnapshotTruncated,  // a snapshot ends before its table says it should
  kSnapshotVersion,    // a snapshot of a format version we do not read
  kSnapshotMismatch,   // a valid snapshot that does not fit this VM
  kDevice,             // a device was configured wrongly
  kBackend,            // a net or block backend failed
  kArgument,           // a bad argument from the caller
};

constexpr const char* ErrcMessage(Errc c) {
  switch (c) {
    case Errc::kKvmUnavailable: return "KVM is not available";
    case Errc::kKvmApi: return "KVM lacks a required API";
    case Errc::kKvmIoctl: return "a KVM ioctl failed";
    case Errc::kMemory: return "guest memory setup failed";
    case Errc::kGuestAddress: return "guest-physical range outside guest RAM";
    case Errc::kKernelImage: return "malformed kernel image";
    case Errc::kBoot: return "boot layout does not fit";
    case Errc::kIo: return "host I/O failed";
    case Errc::kSnapshotCorrupt: return "snapshot is corrupt";
    case Errc::kSnapshotTruncated: return "snapshot is truncated";
    case Errc::kSnapshotVersion: return "snapshot has an unsupported format version";
    case Errc::kSnapshotMismatch: return "snapshot does not fit this VM";
    case Errc::kDevice: return "device configuration error";
    case Errc::kBackend: return "device backend error";
    case Errc::kArgument: return "bad argument";
  }
  return "unknown error";
}

struct Error {
  Errc code = Errc::kArgument;
  std::string detail;
  std::string ToString() const { return std::string(ErrcMessage(code)) + ": " + detail; }
};

template <typename T>
using Result = Expected<T, Error>;
using Status = Expected<void, Error>;

inline Unexpected<Error> Fail(Errc code, std::string detail) {
  return MakeUnexpected(Error{code, std::move(detail)});
}
// Fail with strerror(errno) appended to the detail.
Unexpected<Error> FailErrno(Errc code, const std::string& what);

}  // namespace twinstep::host
