// The dirty-page set (see dirty_set.h).
#include "host/replication/dirty_set.h"

#include <algorithm>
#include <bit>

namespace twinstep::replication {

void DirtySet::Add(std::span<const uint64_t> gfns) {
  for (uint64_t g : gfns) {
    if (g >= pages_) {
      ++ignored_;
      continue;
    }
    uint64_t& word = bits_[g / 64];
    const uint64_t bit = uint64_t{1} << (g % 64);
    count_ += (word & bit) == 0;
    word |= bit;
  }
}

std::vector<uint64_t> DirtySet::Members() const {
  std::vector<uint64_t> out;
  out.reserve(count_);
  for (size_t i = 0; i < bits_.size(); ++i) {
    for (uint64_t w = bits_[i]; w != 0; w &= w - 1) out.push_back(i * 64 + static_cast<uint64_t>(std::countr_zero(w)));
  }
  return out;
}

void DirtySet::Clear() {
  std::fill(bits_.begin(), bits_.end(), 0);
  count_ = 0;
}

}  // namespace twinstep::replication
