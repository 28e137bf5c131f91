// VirtioBlk: request parsing (header, data, status) and pread/pwrite.
#include "host/devices/virtio_blk.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace twinstep::host {
namespace {

constexpr uint32_t kTypeIn = 0, kTypeOut = 1, kTypeFlush = 4, kTypeGetId = 8;
constexpr uint8_t kStatusOk = 0, kStatusIoErr = 1, kStatusUnsupp = 2;

}  // namespace

Result<std::unique_ptr<VirtioBlk>> VirtioBlk::Open(const std::string& path) {
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return FailErrno(Errc::kBackend, "open disk image " + path);
  struct stat st {};
  if (fstat(fd, &st) != 0 || st.st_size % kSectorSize != 0 || st.st_size == 0) {
    close(fd);
    return Fail(Errc::kBackend, "disk image " + path + " is empty or not a whole number of 512-byte sectors");
  }
  return std::unique_ptr<VirtioBlk>(new VirtioBlk(fd, static_cast<uint64_t>(st.st_size) / kSectorSize, path));
}

VirtioBlk::VirtioBlk(int fd, uint64_t sectors, std::string path)
    : fd_(fd), sectors_(sectors), path_(std::move(path)), kick_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

VirtioBlk::~VirtioBlk() {
  Quiesce();
  close(kick_fd_);
  close(fd_);
}

void VirtioBlk::Quiesce() {
  if (!worker_.joinable()) return;
  stop_.store(true);
  const uint64_t one = 1;
  (void)!write(kick_fd_, &one, sizeof one);
  worker_.join();
}

void VirtioBlk::ReadConfig(uint64_t offset, std::span<uint8_t> data) {
  uint8_t cfg[8];
  std::memcpy(cfg, &sectors_, 8);  // capacity
  for (size_t i = 0; i < data.size(); ++i) data[i] = offset + i < sizeof cfg ? cfg[offset + i] : 0;
}

void VirtioBlk::Activate(VirtioPci& transport) {
  Quiesce();
  {
    std::lock_guard l(mu_);
    transport_ = &transport;
    transport.queue(0).SuppressNotifications(false);
  }
  stop_.store(false);
  worker_ = std::thread([this] {
    pollfd p{kick_fd_, POLLIN, 0};
    while (!stop_.load()) {
      if (poll(&p, 1, 100) <= 0) continue;
      uint64_t v;
      (void)!read(kick_fd_, &v, sizeof v);
      if (!stop_.load()) Notify(0);
    }
  });
}

uint8_t VirtioBlk::Serve(const VirtqChain& c, uint32_t* written) {
  // Header in the first descriptor, status in the last byte of the last one.
  if (c.bufs.size() < 2 || c.bufs.front().len < 16 || c.bufs.front().device_writes || !c.bufs.back().device_writes) {
    return kStatusIoErr;
  }
  uint32_t type;
  uint64_t sector;
  std::memcpy(&type, c.bufs.front().host, 4);
  std::memcpy(&sector, c.bufs.front().host + 8, 8);
  const size_t data_end = c.bufs.size() - 1;
  const uint32_t status_len = c.bufs.back().len;
  uint64_t off = sector * kSectorSize;
  switch (type) {
    case kTypeIn:
    case kTypeOut: {
      for (size_t i = 1; i <= data_end; ++i) {
        const VirtqBuffer& b = i < data_end ? c.bufs[i] : c.bufs.back();
        const uint32_t len = i < data_end ? b.len : status_len - 1;  // data may share the status descriptor
        if (len == 0) continue;
        if (sector > sectors_ || off + len > sectors_ * kSectorSize || (type == kTypeIn) != b.device_writes) {
          return kStatusIoErr;
        }
        const ssize_t n = type == kTypeIn ? pread(fd_, b.host, len, static_cast<off_t>(off))
                                          : pwrite(fd_, b.host, len, static_cast<off_t>(off));
        if (n != static_cast<ssize_t>(len)) return kStatusIoErr;
        if (type == kTypeIn) {
          transport_->memory().MarkDirty(b.gpa, len);
          *written += len;
        }
        off += len;
      }
      return kStatusOk;
    }
    case kTypeFlush: return fdatasync(fd_) == 0 ? kStatusOk : kStatusIoErr;
    case kTypeGetId: {
      if (c.bufs.size() < 3 || !c.bufs[1].device_writes) return kStatusIoErr;
      char id[20] = "twinstep-blk";
      const uint32_t len = std::min<uint32_t>(c.bufs[1].len, sizeof id);
      std::memcpy(c.bufs[1].host, id, len);
      transport_->memory().MarkDirty(c.bufs[1].gpa, len);
      *written += len;
      return kStatusOk;
    }
    default: return kStatusUnsupp;
  }
}

void VirtioBlk::Notify(uint16_t) {
  std::lock_guard l(mu_);
  if (transport_ == nullptr) return;
  Virtqueue& q = transport_->queue(0);
  VirtqChain c;
  bool did = false;
  while (q.Pop(&c)) {
    uint32_t written = 0;
    const uint8_t status = Serve(c, &written);
    const VirtqBuffer& sb = c.bufs.back();
    if (sb.device_writes && sb.len > 0) {
      sb.host[sb.len - 1] = status;
      transport_->memory().MarkDirty(sb.gpa + sb.len - 1, 1);
      ++written;
    }
    q.Push(c.head, written);
    requests_.fetch_add(1, std::memory_order_relaxed);
    did = true;
  }
  if (q.broken()) transport_->SetNeedsReset();
  q.SuppressNotifications(false);
  if (did && q.NeedInterrupt()) transport_->Interrupt();
}

void VirtioBlk::SaveState(ByteWriter& w) { w.Put(sectors_); }

Status VirtioBlk::LoadState(ByteReader& r) {
  uint64_t sectors = 0;
  if (!r.Get(&sectors)) return Fail(Errc::kSnapshotCorrupt, "virtio-blk state is truncated");
  if (sectors != sectors_) {
    return Fail(Errc::kSnapshotMismatch, "disk " + path_ + " has " + std::to_string(sectors_) +
                                             " sectors, the snapshot's had " + std::to_string(sectors));
  }
  return {};
}

}  // namespace twinstep::host
