// Doorbell (see doorbell.h): an eventfd, read to clear, written to wake.
#include "dataplane/core/doorbell.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <ctime>

namespace twinstep::dataplane {

Doorbell::Doorbell() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

Doorbell::~Doorbell() {
  if (fd_ >= 0) close(fd_);
}

void Doorbell::Arm() {
  if (fd_ >= 0) {
    uint64_t v;
    (void)!read(fd_, &v, sizeof v);  // a ring that came after the last wake-up
  }
  armed_.store(true, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

bool Doorbell::Wait(uint64_t timeout_ns) {
  const timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000), static_cast<long>(timeout_ns % 1'000'000'000)};
  bool rung = false;
  if (fd_ >= 0) {
    pollfd p{fd_, POLLIN, 0};
    rung = ppoll(&p, 1, &ts, nullptr) > 0 && (p.revents & POLLIN);
  } else {
    nanosleep(&ts, nullptr);
  }
  Disarm();
  return rung;
}

void Doorbell::Wake() {
  wakes_.fetch_add(1, std::memory_order_relaxed);
  if (fd_ < 0) return;
  const uint64_t one = 1;
  (void)!write(fd_, &one, sizeof one);  // cannot block: the count stays far below its limit
}

}  // namespace twinstep::dataplane
