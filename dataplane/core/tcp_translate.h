// The secondary's TCP sequence translation (DESIGN.md, input mirroring): each
// replica's guest picks its own initial sequence numbers, so per connection the
// secondary keeps offset = its guest's ISN - the primary guest's ISN, adds it to
// the acknowledgement numbers (and SACK blocks) of mirrored client inputs, and,
// once it releases outputs itself after a failover, subtracts it from its
// guest's sequence numbers. Checksums are patched incrementally (RFC 1624).
// Pure and fixed-size: no DPDK, nothing allocates after construction.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace twinstep::dataplane {

struct TcpTranslateStats {
  uint64_t connections = 0;    // guest SYNs seen (a new connection or a reuse)
  uint64_t offsets_learned = 0;
  uint64_t inputs_rewritten = 0;
  uint64_t outputs_rewritten = 0;
  uint64_t table_full = 0;     // a connection could not be tracked (passed untranslated)
};

class TcpTranslator {
 public:
  // `capacity` connections (rounded up to a power of two, table twice that).
  explicit TcpTranslator(size_t capacity = 16384);

  // A frame the secondary's guest sent: a SYN records its ISN; with
  // translate_outputs() its sequence number is rewritten into the primary's space.
  void OnGuestOutput(std::span<uint8_t> frame);
  // A mirrored client frame about to enter the secondary's guest: the first
  // ACK of a connection reveals the primary's ISN; then ack and SACK blocks are
  // rewritten into the secondary guest's space.
  void OnClientInput(std::span<uint8_t> frame);

  // After a failover the survivor's outputs reach clients: translate them.
  void set_translate_outputs(bool on) { translate_outputs_ = on; }
  bool translate_outputs() const { return translate_outputs_; }
  // After a checkpoint the secondary's guest is the primary's: offsets are 0.
  void Clear();

  // The offset for a connection (guest ip/port, client ip/port), for tests
  // and status; false when unknown.
  bool OffsetFor(std::span<const uint8_t> guest_frame, uint32_t* offset) const;
  const TcpTranslateStats& stats() const { return stats_; }
  size_t connections() const { return used_; }

 private:
  struct Conn {
    uint64_t key = 0;
    uint32_t guest_isn = 0;
    uint32_t offset = 0;
    bool used = false;
    bool has_offset = false;
  };
  Conn* Find(uint64_t key, bool insert);
  const Conn* Find(uint64_t key) const;
  std::vector<Conn> table_;
  size_t used_ = 0;
  bool translate_outputs_ = false;
  TcpTranslateStats stats_;
};

}  // namespace twinstep::dataplane
