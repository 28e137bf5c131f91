// Chunked checkpoint transfer over the sync link (see checkpoint_transfer.h).
#include "dataplane/core/checkpoint_transfer.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>

#include "common/crc.h"

namespace twinstep::dataplane {
namespace {

// A fresh buffer is filled at link speed, and each 4 KiB page of it costs a
// fault on first touch (in a VM, a trip through the hypervisor): asking for
// transparent huge pages makes that one fault per 2 MiB. Advice only: where
// THP is off, or the range is too small, nothing changes.
void AdviseHugePages(void* p, size_t bytes) {
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(kHuge - 1);
  // The range is inside the vector's own allocation, 2 MiB aligned.
  if (end > begin) (void)madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

}  // namespace

CheckpointSender::CheckpointSender(uint64_t checkpoint_id, wire::CheckpointKind kind, std::span<const uint8_t> data,
                                   size_t chunk_bytes)
    : id_(checkpoint_id),
      kind_(kind),
      data_(data),
      chunk_bytes_(std::max<size_t>(chunk_bytes, 1)),
      chunk_count_(static_cast<uint32_t>((data.size() + chunk_bytes_ - 1) / chunk_bytes_)),
      digest_(Crc64(data)) {}

bool CheckpointSender::Pump(SyncLink& link, uint64_t now_ns) {
  wire::Record r;
  while (stage_ != Stage::kDone) {
    switch (stage_) {
      case Stage::kBegin:
        r.type = wire::RecordType::kCheckpointBegin;
        r.checkpoint_begin = {id_, data_.size(), chunk_count_, kind_};
        break;
      case Stage::kChunks: {
        const size_t off = static_cast<size_t>(next_chunk_) * chunk_bytes_;
        r.type = wire::RecordType::kCheckpointChunk;
        r.checkpoint_chunk = {id_, next_chunk_, data_.subspan(off, std::min(chunk_bytes_, data_.size() - off))};
        break;
      }
      case Stage::kEnd:
        r.type = wire::RecordType::kCheckpointEnd;
        r.checkpoint_end = {id_, chunk_count_, digest_};
        break;
      case Stage::kDone: break;
    }
    if (!link.Add(r, now_ns)) return false;
    if (stage_ == Stage::kBegin) {
      stage_ = chunk_count_ > 0 ? Stage::kChunks : Stage::kEnd;
    } else if (stage_ == Stage::kChunks) {
      if (++next_chunk_ == chunk_count_) stage_ = Stage::kEnd;
    } else {
      stage_ = Stage::kDone;
    }
  }
  return true;
}

const char* CheckpointRxErrorMessage(CheckpointRxError e) {
  switch (e) {
    case CheckpointRxError::kNoBegin: return "checkpoint chunk or end without a begin";
    case CheckpointRxError::kWrongId: return "checkpoint record for another checkpoint than the open one";
    case CheckpointRxError::kChunkOutOfOrder: return "checkpoint chunk index out of order";
    case CheckpointRxError::kTooLarge: return "checkpoint data larger than its begin record announced";
    case CheckpointRxError::kCountMismatch: return "checkpoint end's chunk count differs from chunks received";
    case CheckpointRxError::kBadDigest: return "checkpoint CRC-64 mismatch";
  }
  return "unknown checkpoint error";
}

void CheckpointReceiver::Fail(CheckpointRxError e) {
  state_ = State::kFailed;
  error_ = e;
}

bool CheckpointReceiver::OnRecord(const wire::Record& r) {
  switch (r.type) {
    case wire::RecordType::kCheckpointBegin:
      // A new begin abandons whatever was open (the sender restarted it).
      state_ = State::kReceiving;
      id_ = r.checkpoint_begin.checkpoint_id;
      kind_ = r.checkpoint_begin.kind;
      total_bytes_ = r.checkpoint_begin.total_bytes;
      chunks_ = 0;
      crc_ = 0;
      data_.clear();
      data_.reserve(static_cast<size_t>(std::min<uint64_t>(total_bytes_, uint64_t{1} << 34)));
      AdviseHugePages(data_.data(), data_.capacity());
      return true;
    case wire::RecordType::kCheckpointChunk: {
      if (state_ != State::kReceiving) {
        if (state_ != State::kFailed) Fail(CheckpointRxError::kNoBegin);
        return true;
      }
      const auto& c = r.checkpoint_chunk;
      if (c.checkpoint_id != id_) return Fail(CheckpointRxError::kWrongId), true;
      if (c.chunk_index != chunks_) return Fail(CheckpointRxError::kChunkOutOfOrder), true;
      if (data_.size() + c.data.size() > total_bytes_) return Fail(CheckpointRxError::kTooLarge), true;
      data_.insert(data_.end(), c.data.begin(), c.data.end());
      crc_ = Crc64Update(crc_, c.data);
      ++chunks_;
      return true;
    }
    case wire::RecordType::kCheckpointEnd: {
      if (state_ != State::kReceiving) {
        if (state_ != State::kFailed) Fail(CheckpointRxError::kNoBegin);
        return true;
      }
      const auto& e = r.checkpoint_end;
      if (e.checkpoint_id != id_) return Fail(CheckpointRxError::kWrongId), true;
      if (e.chunk_count != chunks_ || data_.size() != total_bytes_) return Fail(CheckpointRxError::kCountMismatch), true;
      if (e.digest != crc_) return Fail(CheckpointRxError::kBadDigest), true;
      state_ = State::kComplete;
      return true;
    }
    default:
      return false;
  }
}

std::vector<uint8_t> CheckpointReceiver::TakeData() {
  std::vector<uint8_t> out;
  out.swap(data_);
  if (state_ == State::kComplete) state_ = State::kIdle;
  return out;
}

}  // namespace twinstep::dataplane
