// PeerBell (see peer_bell.h): flags in a shared mapping, wake-ups as datagrams.
#include "dataplane/core/peer_bell.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace twinstep::dataplane {
namespace {

constexpr size_t kMapBytes = 4096;
constexpr size_t kFlagStride = 64;  // each side's flag on its own cache line

bool FillAddress(const std::string& path, sockaddr_un* a) {
  std::memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  if (path.size() >= sizeof a->sun_path) return false;
  std::memcpy(a->sun_path, path.c_str(), path.size() + 1);
  return true;
}

}  // namespace

Expected<std::unique_ptr<PeerBell>, std::string> PeerBell::Open(const std::string& base, int side) {
  if (side != 0 && side != 1) return MakeUnexpected(std::string("peer bell: side must be 0 or 1"));
  std::unique_ptr<PeerBell> b(new PeerBell);
  const std::string flags = base + ".bells";
  b->my_path_ = base + ".bell" + std::to_string(side);
  b->peer_path_ = base + ".bell" + std::to_string(1 - side);
  auto fail = [&](const std::string& what) {
    return MakeUnexpected("peer bell " + what + ": " + std::strerror(errno));
  };
  // Either side may come first; a stale file from an earlier run only costs
  // one spurious wake-up.
  const int map_fd = open(flags.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (map_fd < 0) return fail("open " + flags);
  if (ftruncate(map_fd, kMapBytes) != 0) {
    close(map_fd);
    return fail("size " + flags);
  }
  b->map_ = mmap(nullptr, kMapBytes, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
  close(map_fd);
  if (b->map_ == MAP_FAILED) {
    b->map_ = nullptr;
    return fail("map " + flags);
  }
  // std::atomic<bool> is lock-free and address-free here: it works across
  // processes through a shared mapping (static_assert below).
  static_assert(std::atomic<bool>::is_always_lock_free);
  auto* bytes = static_cast<uint8_t*>(b->map_);
  b->mine_ = reinterpret_cast<std::atomic<bool>*>(bytes + side * kFlagStride);
  b->peer_ = reinterpret_cast<std::atomic<bool>*>(bytes + (1 - side) * kFlagStride);

  sockaddr_un a;
  if (!FillAddress(b->my_path_, &a) || !FillAddress(b->peer_path_, &a)) {
    return MakeUnexpected("peer bell: path " + b->my_path_ + " is too long for a Unix socket");
  }
  FillAddress(b->my_path_, &a);
  b->fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (b->fd_ < 0) return fail("socket");
  unlink(b->my_path_.c_str());  // ours from an earlier run
  if (bind(b->fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) return fail("bind " + b->my_path_);
  return b;
}

PeerBell::~PeerBell() {
  if (fd_ >= 0) {
    close(fd_);
    unlink(my_path_.c_str());
  }
  if (map_) munmap(map_, kMapBytes);
}

void PeerBell::Arm() {
  uint8_t drain[64];
  while (recv(fd_, drain, sizeof drain, MSG_DONTWAIT) > 0) {
  }
  mine_->store(true, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

void PeerBell::Wake() {
  ++rings_;
  sockaddr_un a;
  FillAddress(peer_path_, &a);
  const uint8_t one = 1;
  // The peer not there (not started, restarting) or its queue full (it is
  // awake and will drain it) is not an error: nobody needs waking then.
  (void)sendto(fd_, &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&a), sizeof a);
}

}  // namespace twinstep::dataplane
