// The replication protocol's steps (docs/replication.md): cold start, join
// (both sides), checkpoint (both sides). Each runs on the control thread and
// gives up cleanly when the supervisor changes the roles under it.
#include <algorithm>
#include <cstring>
#include <span>

#include "dataplane/eth_port.h"
#include "firmware/regs.h"
#include "host/replication/controller.h"
#include "host/snapshot/page_section.h"
#include "host/replication/state_image.h"

namespace twinstep::replication {
namespace {

using dataplane::Role;
using firmware::HostCommand;
using wire::CheckpointKind;
using wire::ControlOp;

constexpr uint64_t kJoinStepTimeoutNs = 20'000'000'000;  // a joiner silent this long is gone
constexpr size_t kJoinBatchPages = 4096;                  // 16 MiB of pre-copy per transfer

uint64_t ElapsedUs(uint64_t since_ns) { return (dataplane::NowNs() - since_ns) / 1000; }

const char* KindName(CheckpointKind k) {
  switch (k) {
    case CheckpointKind::kJoin: return "join";
    case CheckpointKind::kPeriodic: return "period";
    case CheckpointKind::kDivergence: return "divergence";
    case CheckpointKind::kDirtyBound: return "dirty_bound";
    case CheckpointKind::kJoinPages: return "join_pages";
    case CheckpointKind::kDirtyList: return "dirty_list";
  }
  return "?";
}

bool IsCheckpointImage(CheckpointKind k) {
  return k == CheckpointKind::kPeriodic || k == CheckpointKind::kDivergence || k == CheckpointKind::kDirtyBound;
}

}  // namespace

bool Controller::ColdStart() {
  log_.Say("no peer to join: asking the witness for a cold start");
  firmware_.agent().Post(HostCommand::kStartAlone);
  const bool granted = WaitUntil([&] { return fw_role_ == firmware::Role::kSolo; }, [] { return true; },
                                 "the witness to grant a cold start");
  if (!granted) {
    if (StopsGuest(fw_role_) && fatal_.empty()) {
      Fatal("the witness refused a cold start: another node owns the pair (is the peer running with the sync link cut?)");
    }
    return false;
  }
  if (auto s = guest_.Boot(); !s) {
    Fatal("booting the guest: " + s.error().ToString());
    return false;
  }
  SetPipelineRole(Role::kSolo);
  if (!ResumeGuest()) return false;
  log_.Emit("ready", {{"role", "solo"}});
  return true;
}

bool Controller::Join() {
  const bool forever = config_.start == StartMode::kJoinOnly;
  const uint64_t t0 = dataplane::NowNs();
  Send(ControlOp::kJoinRequest, config_.node_id);
  auto joining = [&] { return fw_role_ == firmware::Role::kJoining; };
  auto accept = WaitFor(
      [](const Message& m) {
        return m.kind == Message::kControl &&
               (m.control.op == ControlOp::kJoinAccept || m.control.op == ControlOp::kJoinReject);
      },
      joining, "a running peer to join", forever ? 0 : t0 + config_.join_probe_ns);
  if (!accept || accept->control.op == ControlOp::kJoinReject) {
    if (accept) log_.Say("the peer is not running a guest we can join (it is " + std::string(firmware::RoleName(static_cast<firmware::Role>(accept->control.arg0))) + ")");
    // Forget the request: a peer that comes later starts a fresh session.
    PostAndWait([this](uint64_t) {
      out_.clear();
      pipeline_.sync_link().Reset();
    });
    if (forever && accept && fatal_.empty() && !stop_->load()) {
      Fatal("the peer refused the join");
    }
    return false;
  }
  const uint64_t owner_epoch = accept->control.arg0;
  const uint64_t epoch = accept->control.arg1;
  log_.Emit("join_begin", {{"epoch", epoch}});
  PrefaultSyncRings();
  uint64_t bytes = 0, rounds = 0, batches_applied = 0;
  auto& mem = guest_.memory();
  for (;;) {
    auto m = WaitFor(
        [](const Message& x) {
          return x.kind == Message::kBulkFailed ||
                 (x.kind == Message::kBulk &&
                  (x.bulk_kind == CheckpointKind::kJoinPages || x.bulk_kind == CheckpointKind::kJoin));
        },
        joining, "the peer's state", dataplane::NowNs() + kJoinStepTimeoutNs);
    if (!m) {
      if (fatal_.empty() && !stop_->load()) Fatal("the join stopped halfway: no state from the peer for 20 s");
      return false;
    }
    if (m->kind == Message::kBulkFailed) {
      Fatal("the join's state transfer failed its checks: " + m->error);
      return false;
    }
    bytes += m->data.size();
    ++rounds;
    if (m->bulk_kind == CheckpointKind::kJoinPages) {
      if (auto s = host::ApplyPages(mem, m->data); !s) {
        Fatal("join round " + std::to_string(rounds) + " from the peer: " + s.error().ToString());
        return false;
      }
      Send(ControlOp::kJoinPagesApplied, ++batches_applied);
      continue;
    }
    std::vector<uint8_t> extra;
    if (auto s = guest_.ApplyCheckpoint(m->data, &extra); !s) {
      Fatal("the join's last state image from the peer: " + s.error().ToString());
      return false;
    }
    if (!AdoptState(extra, epoch)) return false;
    break;
  }
  const uint64_t t_digest = dataplane::NowNs();
  Send(ControlOp::kCheckpointApplied, epoch, host::MemoryDigest(mem));
  const uint64_t digest_us = ElapsedUs(t_digest);
  WaitSent();
  backend_.set_keep_log(true);
  firmware_.agent().Post(HostCommand::kJoinComplete, owner_epoch);
  if (!ResumeGuest()) return false;
  log_.Emit("join_end", {{"ms", ElapsedUs(t0) / 1000.0},
                         {"bytes", bytes},
                         {"rounds", rounds},
                         {"epoch", epoch},
                         {"digest_ms", digest_us / 1000.0}});
  log_.Emit("ready", {{"role", "secondary"}});
  return true;
}

bool Controller::AdoptState(std::span<const uint8_t> extra, uint64_t epoch) {
  backend_.TakeQueued();
  if (auto r = backend_.LoadState(extra); !r) {
    Fatal("the primary's input state: " + r.error());
    return false;
  }
  PostAndWait([this, epoch](uint64_t now) { pipeline_.CheckpointDone(epoch, now); });
  // What the apply wrote is the primary's state, not ours to report.
  if (auto d = guest_.DirtyPages(); !d) {
    Fatal("reading the guest's dirty log: " + d.error().ToString());
    return false;
  }
  dirty_.Clear();
  epoch_ = epoch;
  return true;
}

void Controller::PrefaultSyncRings() {
  // The peer is connected now, so a memif sync link's rings are mapped (the
  // client creates them, the server maps them when it connects): map their
  // pages in here, on the control thread, not by a page fault per ring
  // buffer on the poll thread in lockstep's first seconds.
  if (const uint64_t bytes = dataplane::PrefaultMemifRegions()) {
    log_.Say("memif rings mapped in ahead of use: " + std::to_string(bytes >> 10) + " KiB");
  }
}

void Controller::ServeJoin() {
  const uint64_t t0 = dataplane::NowNs();
  joins_served_.fetch_add(1);
  const uint64_t owner_epoch =
      firmware_.nic().Read(firmware::kRegEpochLo) | (uint64_t{firmware_.nic().Read(firmware::kRegEpochHi)} << 32);
  const uint64_t epoch = epoch_ + 1;
  log_.Emit("join_begin", {{"epoch", epoch}});
  Send(ControlOp::kJoinAccept, owner_epoch, epoch);
  PrefaultSyncRings();
  auto solo = [&] { return fw_role_ == firmware::Role::kSolo; };
  auto give_up = [&](const std::string& why) {
    log_.Emit("error", {{"message", "join abandoned: " + why}});
    if (role_ != Role::kSolo) SetPipelineRole(Role::kSolo);
    if (!guest_running_) ResumeGuest();
  };
  auto& mem = guest_.memory();
  uint64_t bytes = 0, pages = 0, batches = 0;
  uint32_t rounds = 0;
  // Pre-copy: every non-zero page, then what the running guest dirtied meanwhile.
  GatherDirty();
  dirty_.Clear();
  std::vector<uint64_t> frames = host::NonZeroPages(mem);
  for (bool first = true;; first = false) {
    // In batches: memory stays bounded on both sides (and in the heap, not
    // fresh mappings), and each batch is encoded while the last is sent.
    for (size_t at = 0; at == 0 || at < frames.size(); at += kJoinBatchPages) {
      const std::span<const uint64_t> batch(frames.data() + at, std::min(kJoinBatchPages, frames.size() - at));
      auto image = host::EncodePages(mem, batch, first && at == 0);  // the first is complete: the rest is zero
      if (!image) {
        Fatal("encoding join round " + std::to_string(rounds + 1) + ": " + image.error().ToString());
        return;
      }
      bytes += image->size();
      if (at > 0 && !WaitBulkSent(solo, dataplane::NowNs() + kJoinStepTimeoutNs)) {
        return give_up("the joining node stopped taking state");
      }
      QueueBulk(CheckpointKind::kJoinPages, std::move(*image));
      ++batches;
    }
    if (!WaitBulkSent(solo, dataplane::NowNs() + kJoinStepTimeoutNs)) return give_up("the joining node stopped taking state");
    // Sent is not applied: the joining node may still be writing earlier
    // batches into fresh memory. Waiting here keeps that backlog out of the
    // stop-and-copy pause (it was seconds for 512 MiB).
    auto applied = WaitFor(
        [&](const Message& m) {
          return m.kind == Message::kControl && m.control.op == ControlOp::kJoinPagesApplied && m.control.arg0 >= batches;
        },
        solo, "the joining node to apply the pre-copy", dataplane::NowNs() + kJoinStepTimeoutNs);
    if (!applied) return give_up("the joining node did not apply the pre-copy");
    pages += frames.size();
    ++rounds;
    GatherDirty();
    if (dirty_.count() <= config_.precopy_stop_pages || rounds > config_.precopy_max_rounds) break;
    frames = dirty_.Members();
    dirty_.Clear();
  }
  // Stop and copy: from here on every input is mirrored.
  const uint64_t t_stop = dataplane::NowNs();
  PauseGuest();
  WaitGuestOutputsDrained();
  SetPipelineRole(Role::kPrimary);
  backend_.TakeQueued();
  GatherDirty();
  frames = dirty_.Members();
  auto image = guest_.EncodeCheckpoint(frames, backend_.SaveState());
  if (!image) {
    Fatal("encoding the join's last image: " + image.error().ToString());
    return;
  }
  bytes += image->size();
  pages += frames.size();
  ++rounds;
  dirty_.Clear();
  QueueBulk(CheckpointKind::kJoin, std::move(*image));
  // The guest stays paused: our digest is computed while the image travels
  // and the joining node applies it (a digest of 512 MiB took 150-190 ms
  // here, nearly all of the join's pause).
  const uint64_t t_digest = dataplane::NowNs();
  const uint64_t digest = host::MemoryDigest(mem);
  const uint64_t digest_us = ElapsedUs(t_digest);
  auto applied = WaitFor(
      [&](const Message& m) {
        return m.kind == Message::kControl && m.control.op == ControlOp::kCheckpointApplied && m.control.arg0 == epoch;
      },
      solo, "the joining node to load the state", dataplane::NowNs() + kJoinStepTimeoutNs);
  if (!applied) return give_up("the joining node did not confirm the state");
  if (applied->control.arg1 != digest) {
    Send(ControlOp::kJoinReject, 0, 0);
    return give_up("the memory digests differ after the transfer (ours " + std::to_string(digest) + ", theirs " +
                   std::to_string(applied->control.arg1) + ")");
  }
  epoch_ = epoch;
  firmware_.agent().Post(HostCommand::kPeerJoined);
  backend_.ClearLog();
  if (!ResumeGuest()) return;
  const uint64_t pause_us = ElapsedUs(t_stop);
  last_checkpoint_ns_ = dataplane::NowNs();
  divergence_seen_ = false;
  divergence_queued_.store(false);
  log_.Emit("join_end", {{"ms", ElapsedUs(t0) / 1000.0},
                         {"bytes", bytes},
                         {"rounds", rounds},
                         {"pages", pages},
                         {"epoch", epoch},
                         // the guest's pause for the stop-and-copy, and our digest inside it
                         {"pause_ms", pause_us / 1000.0},
                         {"digest_ms", digest_us / 1000.0}});
  PrepareComparator();
}

void Controller::Checkpoint(CheckpointKind kind) {
  const uint64_t epoch = epoch_ + 1;
  auto primary = [&] { return role_ == Role::kPrimary; };
  const uint64_t t0 = dataplane::NowNs();
  PauseGuest();
  WaitGuestOutputsDrained();
  backend_.TakeQueued();
  Post([this](uint64_t) { pipeline_.SuspendCompareTimeouts(); });
  Send(ControlOp::kCheckpointPrepare, epoch, static_cast<uint64_t>(kind));
  const uint64_t deadline = t0 + config_.checkpoint_timeout_ns;
  auto list = WaitFor(
      [](const Message& m) {
        return m.kind == Message::kBulkFailed || (m.kind == Message::kBulk && m.bulk_kind == CheckpointKind::kDirtyList);
      },
      primary, "the secondary's dirty pages", deadline);
  if (!list || list->kind == Message::kBulkFailed) {
    if (!list) PeerUnresponsiveIfExpired(primary, deadline, "checkpoint " + std::to_string(epoch) + "'s prepare");
    if (guest_running_ || ResumeGuest()) last_checkpoint_ns_ = dataplane::NowNs();
    return;
  }
  const uint64_t t_list = dataplane::NowNs();
  auto secondary_crcs = host::DecodePageCrcs(guest_.memory(), list->data);
  if (!secondary_crcs) {
    log_.Emit("error", {{"message", "checkpoint " + std::to_string(epoch) + ": the secondary's " +
                                        secondary_crcs.error().ToString()}});
    // Everything both replicas may have written goes over instead.
    secondary_crcs = std::vector<host::PageCrc>{};
  }
  std::vector<uint64_t> secondary_frames;
  for (const host::PageCrc& p : *secondary_crcs) secondary_frames.push_back(p.gfn);
  dirty_.Add(secondary_frames);
  GatherDirty();
  const std::vector<uint64_t> dirty = dirty_.Members();
  // Pages both replicas hold with the same content stay where they are.
  const std::vector<uint64_t> frames = host::PagesThatDiffer(guest_.memory(), dirty, *secondary_crcs);
  auto image = guest_.EncodeCheckpoint(frames, backend_.SaveState());
  if (!image) {
    Fatal("encoding checkpoint " + std::to_string(epoch) + ": " + image.error().ToString());
    return;
  }
  const uint64_t bytes = image->size();
  const uint64_t t_encoded = dataplane::NowNs();
  QueueBulk(kind, std::move(*image));
  // The poll thread releases the held outputs the moment the secondary confirms.
  auto applied = WaitFor(
      [&](const Message& m) {
        return m.kind == Message::kControl && m.control.op == ControlOp::kCheckpointApplied && m.control.arg0 == epoch;
      },
      primary, "the secondary to load the checkpoint", deadline);
  if (!applied) {
    PeerUnresponsiveIfExpired(primary, deadline, "checkpoint " + std::to_string(epoch) + "'s image");
    if (!guest_running_) ResumeGuest();
    return;
  }
  epoch_ = epoch;
  dirty_.Clear();
  divergence_seen_ = false;
  divergence_queued_.store(false);
  if (!ResumeGuest()) return;
  last_checkpoint_ns_ = dataplane::NowNs();
  checkpoints_.fetch_add(1);
  log_.Emit("checkpoint", {{"reason", KindName(kind)},
                           {"epoch", epoch},
                           {"dirty_pages", dirty.size()},
                           {"secondary_pages", secondary_frames.size()},
                           {"sent_pages", frames.size()},
                           {"bytes", bytes},
                           {"pause_us", ElapsedUs(t0)},
                           // where the pause went: the secondary's list, encoding, transfer + apply
                           {"list_us", (t_list - t0) / 1000},
                           {"encode_us", (t_encoded - t_list) / 1000},
                           {"transfer_us", ElapsedUs(t_encoded)}});
  PrepareComparator();
}

void Controller::FollowCheckpoint(const wire::Control& prepare) {
  const uint64_t t0 = dataplane::NowNs();
  const uint64_t epoch = prepare.arg0;
  auto secondary = [&] { return role_ == Role::kSecondary; };
  PauseGuest();
  WaitGuestOutputsDrained();
  backend_.TakeQueued();
  // Our own dirty pages too, with their CRCs: the primary sends its copy of
  // each one whose content differs from ours (and of each it wrote alone).
  GatherDirty();
  QueueBulk(CheckpointKind::kDirtyList, host::EncodePageCrcs(guest_.memory(), dirty_.Members()));
  const uint64_t t_listed = dataplane::NowNs();
  const uint64_t deadline = t0 + config_.checkpoint_timeout_ns;
  auto image = WaitFor(
      [](const Message& m) {
        return m.kind == Message::kBulkFailed || (m.kind == Message::kBulk && IsCheckpointImage(m.bulk_kind));
      },
      secondary, "the primary's checkpoint", deadline);
  if (!image) {
    PeerUnresponsiveIfExpired(secondary, deadline, "checkpoint " + std::to_string(epoch) + ": no image after our dirty list");
    if (!guest_running_ && !Stopping()) ResumeGuest();  // failover: our own state goes on
    return;
  }
  if (image->kind == Message::kBulkFailed) {
    Fatal("checkpoint " + std::to_string(epoch) + " from the primary failed its transfer checks: " + image->error);
    return;
  }
  const uint64_t t_image = dataplane::NowNs();
  std::vector<uint8_t> extra;
  if (auto s = guest_.ApplyCheckpoint(image->data, &extra); !s) {
    Fatal("checkpoint " + std::to_string(epoch) + " from the primary was rejected: " + s.error().ToString());
    return;
  }
  if (!AdoptState(extra, epoch)) return;
  const uint64_t t_applied = dataplane::NowNs();
  Send(ControlOp::kCheckpointApplied, epoch, 0);
  WaitSent();
  if (!ResumeGuest()) return;
  checkpoints_.fetch_add(1);
  log_.Emit("checkpoint", {{"reason", KindName(image->bulk_kind)},
                           {"epoch", epoch},
                           {"bytes", image->data.size()},
                           {"pause_us", ElapsedUs(t0)},
                           // where it went: pausing and listing, waiting for the image, applying, confirming
                           {"list_us", (t_listed - t0) / 1000},
                           {"wait_us", (t_image - t_listed) / 1000},
                           {"apply_us", (t_applied - t_image) / 1000},
                           {"confirm_us", ElapsedUs(t_applied)}});
}

}  // namespace twinstep::replication
