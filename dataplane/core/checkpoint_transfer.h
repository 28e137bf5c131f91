// Chunked bulk transfer of a checkpoint over the sync link: the sender cuts a
// byte image into CheckpointBegin, CheckpointChunk... and CheckpointEnd records
// as the send window allows; the receiver reassembles and checks the CRC-64.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/wire.h"
#include "dataplane/core/sync_link.h"

namespace twinstep::dataplane {

class CheckpointSender {
 public:
  // `data` must stay valid until Done().
  CheckpointSender(uint64_t checkpoint_id, wire::CheckpointKind kind, std::span<const uint8_t> data,
                   size_t chunk_bytes);
  // Adds as many records as the link takes; true once End has been added.
  bool Pump(SyncLink& link, uint64_t now_ns);
  bool Done() const { return stage_ == Stage::kDone; }
  uint32_t chunk_count() const { return chunk_count_; }

 private:
  enum class Stage : uint8_t { kBegin, kChunks, kEnd, kDone };
  uint64_t id_;
  wire::CheckpointKind kind_;
  std::span<const uint8_t> data_;
  size_t chunk_bytes_;
  uint32_t chunk_count_;
  uint32_t next_chunk_ = 0;
  uint64_t digest_;
  Stage stage_ = Stage::kBegin;
};

enum class CheckpointRxError : uint8_t {
  kNoBegin = 1,      // a chunk or end without a begin
  kWrongId,          // a record for another checkpoint than the open one
  kChunkOutOfOrder,  // chunk index is not the next one
  kTooLarge,         // more bytes than Begin announced
  kCountMismatch,    // End's chunk count differs from chunks received
  kBadDigest,        // CRC-64 over the data differs from End's
};
const char* CheckpointRxErrorMessage(CheckpointRxError e);

// Reassembles one checkpoint at a time from records delivered in order.
class CheckpointReceiver {
 public:
  enum class State : uint8_t { kIdle, kReceiving, kComplete, kFailed };
  // Feeds one record; records of other types are ignored (returns false).
  bool OnRecord(const wire::Record& r);
  State state() const { return state_; }
  CheckpointRxError error() const { return error_; }
  uint64_t checkpoint_id() const { return id_; }
  wire::CheckpointKind kind() const { return kind_; }
  const std::vector<uint8_t>& data() const { return data_; }
  std::vector<uint8_t> TakeData();

 private:
  void Fail(CheckpointRxError e);
  State state_ = State::kIdle;
  CheckpointRxError error_ = CheckpointRxError::kNoBegin;
  uint64_t id_ = 0;
  wire::CheckpointKind kind_ = wire::CheckpointKind::kPeriodic;
  uint64_t total_bytes_ = 0;
  uint32_t chunks_ = 0;
  uint64_t crc_ = 0;
  std::vector<uint8_t> data_;
};

}  // namespace twinstep::dataplane
