// The set of guest pages dirtied since the last checkpoint, gathered from the
// VMM's dirty log a little at a time (the log is consumed when read) so that
// the controller knows its size for the dirty-page bound. One bit per page.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace twinstep::replication {

class DirtySet {
 public:
  explicit DirtySet(uint64_t pages) : bits_((pages + 63) / 64, 0), pages_(pages) {}

  // Adds guest frame numbers; numbers past the end are counted in ignored().
  void Add(std::span<const uint64_t> gfns);
  uint64_t count() const { return count_; }
  uint64_t ignored() const { return ignored_; }
  // The members in ascending order.
  std::vector<uint64_t> Members() const;
  void Clear();

 private:
  std::vector<uint64_t> bits_;
  uint64_t pages_;
  uint64_t count_ = 0;
  uint64_t ignored_ = 0;
};

}  // namespace twinstep::replication
