// Little-endian, bounds-checked encoding of device and vCPU state in snapshot
// sections. The reader never reads past its end: it latches a failure instead,
// which the caller turns into a "truncated section" error.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace twinstep::host {

class ByteWriter {
 public:
  template <typename T>
  void Put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* p = reinterpret_cast<const uint8_t*>(&v);  // trivially copyable: its bytes are its value
    buf_.insert(buf_.end(), p, p + sizeof(T));
  }
  void PutBytes(std::span<const uint8_t> b) {
    Put<uint64_t>(b.size());
    buf_.insert(buf_.end(), b.begin(), b.end());
  }
  std::vector<uint8_t>& bytes() { return buf_; }
  const std::vector<uint8_t>& bytes() const { return buf_; }

 private:
  std::vector<uint8_t> buf_;
};

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> b) : b_(b) {}
  template <typename T>
  bool Get(T* v) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (!ok_ || b_.size() - pos_ < sizeof(T)) return ok_ = false;
    std::memcpy(v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  // A length-prefixed byte string of at most max_len bytes.
  bool GetBytes(std::vector<uint8_t>* out, uint64_t max_len) {
    uint64_t n = 0;
    if (!Get(&n) || n > max_len || n > b_.size() - pos_) return ok_ = false;
    out->assign(b_.begin() + static_cast<long>(pos_), b_.begin() + static_cast<long>(pos_ + n));
    pos_ += n;
    return true;
  }
  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == b_.size(); }

 private:
  std::span<const uint8_t> b_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace twinstep::host
