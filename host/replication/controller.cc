// The replication controller: threads, roles and housekeeping (see
// controller.h). The protocol steps (join, checkpoint) are in lockstep.cc.
#include "host/replication/controller.h"

#include <time.h>

#include <cinttypes>
#include <cstring>
#include <sstream>

#include "firmware/regs.h"

namespace twinstep::replication {

using dataplane::Role;
using firmware::HostCommand;

namespace {

constexpr size_t kChunkRecordFixedBytes = 16;  // a checkpoint chunk record's fields before its data (docs/wire.md)
constexpr uint64_t kProgressNoteNs = 5'000'000'000;  // a long wait says so this often
// The control thread's longest nap inside a step: the poll thread's doorbell
// ends it early, the bound only paces checks nobody rings for (timeouts, a
// peer's liveness).
constexpr uint64_t kNapNs = 500'000;
// Between steps the bell (messages, supervisor roles, requests) and the
// checkpoint period are all there is to wait for; the bound paces the dirty
// log's gathering. Each wake-up costs CPU the guests and the poll loops want
// on shared cores (~2500 naps/s at kNapNs were 4-5 % of a core).
constexpr uint64_t kIdleNapNs = 10'000'000;

std::string ErrorReply(const std::string& message) {
  nlohmann::json j;
  j["error"] = message;
  return j.dump();
}
}  // namespace

const char* StopReasonName(StopReason r) {
  switch (r) {
    case StopReason::kRequested: return "requested";
    case StopReason::kFenced: return "fenced";
    case StopReason::kFatal: return "fatal";
  }
  return "?";
}

Controller::Controller(const ControllerConfig& config, ReplicatedGuest& guest, dataplane::Pipeline& pipeline,
                       dataplane::GuestNetBackend& backend, firmware::sim::SimNode& firmware, EventLog& log)
    : config_(config),
      guest_(guest),
      pipeline_(pipeline),
      backend_(backend),
      firmware_(firmware),
      log_(log),
      dirty_([&] {
        uint64_t end = 0;
        for (const auto& r : guest.memory().regions()) end = std::max(end, r.gpa + r.size);
        return end / host::kPageSize;
      }()) {}

Controller::~Controller() {
  Message* m;
  while (inbox_.pop(m)) delete m;
  Task* t;
  while (tasks_.pop(t)) delete t;
}

// ---------------------------------------------------------------- poll thread

void Controller::OnDivergence(const dataplane::DivergenceEvent& event) {
  // One at a time: the checkpoint it causes repairs whatever follows it.
  if (divergence_queued_.exchange(true)) return;
  auto* m = new Message;
  m->kind = Message::kDivergence;
  m->divergence = event;
  Deliver(m);
}

void Controller::OnPeerRecord(const wire::Record& r, uint64_t /*epoch*/, uint64_t now_ns) {
  auto* m = new Message;
  switch (r.type) {
    case wire::RecordType::kControl:
      // The secondary has the new state: the held outputs go out and the new
      // epoch's digests count, before any of them is looked at.
      if (r.control.op == wire::ControlOp::kCheckpointApplied && pipeline_.role() == Role::kPrimary) {
        pipeline_.CheckpointDone(r.control.arg0, now_ns, &spare_comparator_);
      }
      m->kind = Message::kControl;
      m->control = r.control;
      break;
    case wire::RecordType::kCheckpointBegin:
    case wire::RecordType::kCheckpointChunk:
    case wire::RecordType::kCheckpointEnd:
      receiver_.OnRecord(r);
      if (receiver_.state() == dataplane::CheckpointReceiver::State::kComplete) {
        m->kind = Message::kBulk;
        m->bulk_kind = receiver_.kind();
        m->data = receiver_.TakeData();
      } else if (receiver_.state() == dataplane::CheckpointReceiver::State::kFailed) {
        m->kind = Message::kBulkFailed;
        m->error = dataplane::CheckpointRxErrorMessage(receiver_.error());
      } else {
        delete m;
        return;
      }
      receiver_ = dataplane::CheckpointReceiver();
      break;
    default:
      delete m;
      return;
  }
  Deliver(m);
}

void Controller::Deliver(Message* m) {
  if (!inbox_.push(m)) {
    delete m;
    return;
  }
  bell_.Ring();
}

void Controller::OnPeerRestart(uint64_t /*now_ns*/) {
  out_.clear();  // what we were sending belonged to the peer's old session
  receiver_ = dataplane::CheckpointReceiver();
  auto* m = new Message;
  m->kind = Message::kPeerRestart;
  Deliver(m);
}

size_t Controller::OnPoll(dataplane::SyncLink& link, uint64_t now_ns) {
  size_t work = 0;
  Task* t;
  while (tasks_.pop(t)) {
    (*t)(now_ns);
    delete t;
    ++work;
  }
  while (!out_.empty()) {
    Outgoing& o = out_.front();
    if (!o.bulk) {
      wire::Record r;
      r.type = wire::RecordType::kControl;
      r.control = o.control;
      if (!link.Add(r, now_ns)) break;  // the window is full: next poll
    } else {
      if (!o.sender) {
        // A chunk fills one record of the largest frame the link sends.
        const size_t chunk = link.MaxRecordBody() - kChunkRecordFixedBytes;
        o.sender = std::make_unique<dataplane::CheckpointSender>(++bulk_id_, o.bulk_kind, *o.bulk, chunk);
      }
      o.sender->Pump(link, now_ns);
      if (!o.sender->Done()) break;
      bulks_sent_.fetch_add(1);
      bell_.Ring();
    }
    out_.pop_front();
    if (out_.empty()) bell_.Ring();  // WaitSent
    ++work;
  }
  out_size_.store(out_.size(), std::memory_order_release);
  firmware_.supervisor().Poll();
  // The control thread follows the supervisor's role and release gate
  // (FollowSupervisor), the host loop its role and witness requests (the
  // agent): ring them when these changed rather than let them wait for a nap.
  auto& nic = firmware_.nic();
  const uint32_t role = nic.Read(firmware::kRegRole), gate = nic.Read(firmware::kRegReleaseGate);
  const uint32_t arb_seq = nic.Read(firmware::kRegArbSeq);
  if (role != rung_role_ || gate != rung_gate_) bell_.Ring();
  if ((role != rung_role_ || arb_seq != rung_arb_seq_) && host_bell_) host_bell_->Ring();
  rung_role_ = role, rung_gate_ = gate, rung_arb_seq_ = arb_seq;
  return work;
}

// ------------------------------------------------------------- control thread

void Controller::Post(Task task) {
  auto* t = new Task(std::move(task));
  while (!tasks_.push(t)) {
    timespec ts{0, 100'000};
    nanosleep(&ts, nullptr);
  }
  pipeline_.Wake();  // the poll loop runs tasks: it need not finish its idle sleep first
}

void Controller::PostAndWait(Task task) {
  std::atomic<bool> done{false};
  Post([&, task = std::move(task)](uint64_t now_ns) {
    task(now_ns);
    done.store(true, std::memory_order_release);
    bell_.Ring();
  });
  for (;;) {
    bell_.Arm();
    if (done.load(std::memory_order_acquire)) break;
    bell_.Wait(kNapNs);
  }
  bell_.Disarm();
}

void Controller::Send(wire::ControlOp op, uint64_t arg0, uint64_t arg1) {
  const wire::Control c{op, config_.node_id, arg0, arg1};
  Post([this, c](uint64_t) {
    Outgoing o;
    o.control = c;
    out_.push_back(std::move(o));
  });
}

void Controller::WaitSent() {
  // A task runs before the poll's sends; the one after it sees what they left.
  PostAndWait([](uint64_t) {});
  PostAndWait([](uint64_t) {});
  for (;;) {
    bell_.Arm();
    if (out_size_.load(std::memory_order_acquire) == 0 || Stopping()) break;
    Housekeep();
    bell_.Wait(kNapNs);
  }
  bell_.Disarm();
}

void Controller::QueueBulk(wire::CheckpointKind kind, std::vector<uint8_t> data) {
  auto shared = std::make_shared<const std::vector<uint8_t>>(std::move(data));
  bulk_target_ = bulks_queued_ + 1;
  ++bulks_queued_;
  Post([this, kind, shared](uint64_t) {
    Outgoing o;
    o.bulk = shared;
    o.bulk_kind = kind;
    out_.push_back(std::move(o));
  });
}

bool Controller::WaitBulkSent(const std::function<bool()>& still, uint64_t deadline_ns) {
  if (WaitUntil([&] { return bulks_sent_.load() >= bulk_target_; }, still, "the peer to take our state", deadline_ns)) {
    return true;
  }
  Post([this](uint64_t) { out_.clear(); });  // nobody will take it
  bulks_sent_.store(bulks_queued_);
  return false;
}

bool Controller::Stopping() const { return stop_->load() || !fatal_.empty() || StopsGuest(fw_role_); }

bool Controller::WaitUntil(const std::function<bool()>& done, const std::function<bool()>& still, const std::string& what,
                           uint64_t deadline_ns) {
  const uint64_t start = dataplane::NowNs();
  uint64_t next_note = start + kProgressNoteNs;
  for (;;) {
    bell_.Arm();  // before looking: what arrives after the look rings
    Housekeep();
    if (done()) {
      bell_.Disarm();
      return true;
    }
    if (!still() || Stopping()) {
      bell_.Disarm();
      return false;
    }
    const uint64_t now = dataplane::NowNs();
    if (deadline_ns && now > deadline_ns) {
      log_.Say("gave up waiting for " + what);
      return false;
    }
    if (now > next_note) {
      log_.Say("waiting for " + what + " (" + std::to_string((now - start) / 1'000'000'000) + " s)");
      next_note += kProgressNoteNs;
    }
    bell_.Wait(kNapNs);
  }
}

std::optional<Controller::Message> Controller::WaitFor(const std::function<bool(const Message&)>& match,
                                                       const std::function<bool()>& still, const char* what,
                                                       uint64_t deadline_ns) {
  std::optional<Message> found;
  auto take = [&] {
    for (auto it = messages_.begin(); it != messages_.end(); ++it) {
      if (match(*it)) {
        found = std::move(*it);
        messages_.erase(it);
        return true;
      }
    }
    return false;
  };
  WaitUntil(take, still, what, deadline_ns);
  return found;
}

void Controller::Housekeep() {
  while (dataplane::NowNs() < stall_until_ns_.load() && !stop_->load()) {
    timespec ts{0, 1'000'000};
    nanosleep(&ts, nullptr);
  }
  FollowSupervisor();
  Message* m;
  while (inbox_.pop(m)) {
    if (m->kind == Message::kDivergence) {
      const auto& d = m->divergence;
      divergences_.fetch_add(1);
      log_.Emit("divergence", {{"kind", compare::VerdictKindName(d.kind)},
                               {"flow", d.flow},
                               {"out_seq", d.out_seq},
                               {"primary_digest", d.primary_digest},
                               {"secondary_digest", d.secondary_digest},
                               {"epoch", d.epoch}});
      if (role_ == Role::kPrimary && d.epoch == epoch_) divergence_seen_ = true;
      if (!divergence_seen_) divergence_queued_.store(false);
    } else if (m->kind == Message::kPeerRestart) {
      log_.Emit("peer_restart");
      messages_.push_back(std::move(*m));
    } else if (m->kind == Message::kBulkFailed) {
      log_.Emit("error", {{"message", "a state transfer from the peer failed its checks: " + m->error}});
      messages_.push_back(std::move(*m));
    } else {
      messages_.push_back(std::move(*m));
    }
    delete m;
  }
  // While the guest is still, this thread is the guest queue's consumer:
  // inputs wait in the backend instead of filling the queue.
  if (!guest_running_) backend_.TakeQueued();
  const uint64_t now = dataplane::NowNs();
  if (guest_running_ && (role_ == Role::kPrimary || role_ == Role::kSecondary) && now - last_gather_ns_ > 10'000'000) {
    last_gather_ns_ = now;
    GatherDirty();
  }
  status_role_.store(static_cast<int>(fw_role_));
  status_epoch_.store(epoch_);
}

bool Controller::TakesCheckpoints() const {
  return role_ == Role::kPrimary && fw_role_ == firmware::Role::kPrimary && guest_running_ && fatal_.empty() &&
         !peer_reported_dead_;
}

uint64_t Controller::IdleNapNs() const {
  uint64_t nap = kIdleNapNs;
  if (TakesCheckpoints() && config_.checkpoint_period_ns) {
    const uint64_t due = last_checkpoint_ns_ + config_.checkpoint_period_ns, now = dataplane::NowNs();
    nap = std::min(nap, due > now ? due - now : 0);
  }
  return nap;
}

void Controller::FollowSupervisor() {
  auto& nic = firmware_.nic();
  const auto fw = static_cast<firmware::Role>(nic.Read(firmware::kRegRole));
  const bool gate = nic.Read(firmware::kRegReleaseGate) != 0;
  if (fw != fw_role_) {
    const uint64_t fw_epoch = nic.Read(firmware::kRegEpochLo) | (uint64_t{nic.Read(firmware::kRegEpochHi)} << 32);
    log_.Emit("role", {{"role", firmware::RoleName(fw)}, {"epoch", fw_epoch}});
    const firmware::Role before = fw_role_;
    fw_role_ = fw;
    if (fw == firmware::Role::kSolo && role_ != Role::kSolo && before != firmware::Role::kJoining) {
      const bool failover = role_ == Role::kSecondary;
      Post([this](uint64_t) {
        out_.clear();  // the peer is gone: what was queued for it goes nowhere
        pipeline_.sync_link().Reset();
        receiver_ = dataplane::CheckpointReceiver();
      });
      SetPipelineRole(Role::kSolo);
      backend_.set_keep_log(false);
      if (failover) {
        log_.Emit("failover");
        AnnounceGuest();
      } else {
        log_.Emit("peer_lost");
      }
    }
    if (StopsGuest(fw) && guest_running_) PauseGuest();
  }
  if (gate != gate_open_) {
    gate_open_ = gate;
    Post([this, gate](uint64_t) { pipeline_.SetReleaseGate(gate); });
  }
}

void Controller::SetPipelineRole(Role role) {
  PostAndWait([this, role](uint64_t now) { pipeline_.SetRole(role, now); });
  role_ = role;
  peer_reported_dead_ = false;
}

void Controller::PeerUnresponsiveIfExpired(const std::function<bool()>& still, uint64_t deadline,
                                           const std::string& what) {
  if (!still() || Stopping() || dataplane::NowNs() <= deadline) return;
  log_.Emit("error", {{"message", "the peer left " + what + " unanswered for " +
                                      std::to_string(config_.checkpoint_timeout_ns / 1'000'000) +
                                      " ms while its heartbeats go on: reporting its host dead to the supervisor"}});
  peer_reported_dead_ = true;
  firmware_.agent().Post(firmware::HostCommand::kPeerHostUnresponsive);
}

void Controller::GatherDirty() {
  auto d = guest_.DirtyPages();
  if (!d) {
    Fatal("reading the guest's dirty log: " + d.error().ToString());
    return;
  }
  dirty_.Add(*d);
}

void Controller::PauseGuest() {
  guest_.Pause();
  guest_running_ = false;
}

bool Controller::ResumeGuest() {
  if (auto s = guest_.Resume(); !s) {
    Fatal("resuming the guest: " + s.error().ToString());
    return false;
  }
  guest_running_ = true;
  return true;
}

void Controller::WaitGuestOutputsDrained() {
  // The guest is paused: what it sent before must be through the pipeline
  // (held by the comparator, digested, or released) before the state is cut.
  while (backend_.port()->FromGuestPending() > 0) {
    timespec ts{0, 50'000};
    nanosleep(&ts, nullptr);
  }
  PostAndWait([](uint64_t) {});
}

void Controller::AnnounceGuest() {
  // A gratuitous ARP request: the LAN's switches learn the guest's MAC on
  // this node's port, hosts refresh their ARP caches.
  uint8_t f[60] = {};
  std::memset(f, 0xff, 6);
  std::memcpy(f + 6, config_.guest_mac, 6);
  f[12] = 0x08, f[13] = 0x06;                     // ARP
  f[14] = 0, f[15] = 1, f[16] = 0x08, f[17] = 0;  // Ethernet, IPv4
  f[18] = 6, f[19] = 4, f[20] = 0, f[21] = 1;     // sizes, request
  std::memcpy(f + 22, config_.guest_mac, 6);
  const uint8_t ip[4] = {static_cast<uint8_t>(config_.guest_ip >> 24), static_cast<uint8_t>(config_.guest_ip >> 16),
                         static_cast<uint8_t>(config_.guest_ip >> 8), static_cast<uint8_t>(config_.guest_ip)};
  std::memcpy(f + 28, ip, 4);
  std::memcpy(f + 38, ip, 4);
  std::vector<uint8_t> frame(f, f + sizeof f);
  Post([this, frame](uint64_t) { pipeline_.SendClientFrame(frame); });
  log_.Emit("garp");
}

void Controller::Fatal(const std::string& what) {
  if (!fatal_.empty()) return;
  fatal_ = what;
  log_.Emit("error", {{"message", what}});
}

StopReason Controller::Run(const std::atomic<bool>& stop, std::string* error) {
  stop_ = &stop;
  log_.Emit("start", {{"pid", static_cast<int64_t>(getpid())}});
  PrepareComparator();  // then again after each confirmed state
  bool started = false;
  if (config_.start != StartMode::kColdStart) started = Join();
  if (!started && fatal_.empty() && !stop.load() && config_.start != StartMode::kJoinOnly) started = ColdStart();
  while (started && !Stopping()) {
    bell_.Arm();  // before looking: a message that arrives after the look rings
    Housekeep();
    bool acted = false;  // a step ran (and used the bell): look again before napping
    while (!messages_.empty() && !Stopping()) {
      acted = true;
      Message m = std::move(messages_.front());
      messages_.pop_front();
      if (m.kind != Message::kControl) continue;  // transfers and restarts only matter inside a step
      switch (m.control.op) {
        case wire::ControlOp::kJoinRequest:
          if (role_ == Role::kSolo && fw_role_ == firmware::Role::kSolo && guest_running_) {
            ServeJoin();
          } else {
            Send(wire::ControlOp::kJoinReject, static_cast<uint64_t>(fw_role_));
          }
          break;
        case wire::ControlOp::kCheckpointPrepare:
          if (role_ == Role::kSecondary) FollowCheckpoint(m.control);
          break;
        case wire::ControlOp::kJoinReject:
          if (role_ == Role::kSecondary) Fatal("the primary rejected our state after the join (memory digests differ)");
          break;
        default:
          break;
      }
    }
    if (TakesCheckpoints()) {
      const uint64_t now = dataplane::NowNs();
      acted = true;
      if (divergence_seen_) {
        Checkpoint(wire::CheckpointKind::kDivergence);
      } else if (config_.dirty_page_bound && dirty_.count() >= config_.dirty_page_bound) {
        Checkpoint(wire::CheckpointKind::kDirtyBound);
      } else if ((config_.checkpoint_period_ns && now - last_checkpoint_ns_ >= config_.checkpoint_period_ns) ||
                 checkpoint_requested_.exchange(false)) {
        Checkpoint(wire::CheckpointKind::kPeriodic);
      } else {
        acted = false;
      }
    }
    if (acted) {
      bell_.Disarm();
    } else {
      bell_.Wait(IdleNapNs());
    }
  }
  if (guest_running_) PauseGuest();
  if (!fatal_.empty()) {
    *error = fatal_;
    log_.Emit("exit", {{"reason", "error"}});
    return StopReason::kFatal;
  }
  if (StopsGuest(fw_role_)) {
    *error = std::string("the supervisor ") + (fw_role_ == firmware::Role::kFenced ? "fenced" : "stopped") +
             " this node: the peer owns the pair; restart to rejoin";
    log_.Emit("exit", {{"reason", firmware::RoleName(fw_role_)}});
    return StopReason::kFenced;
  }
  log_.Emit("exit", {{"reason", "stopped"}});
  return StopReason::kRequested;
}

std::string Controller::HandleRequest(const std::string& request) {
  std::istringstream in(request);
  std::string verb;
  in >> verb;
  nlohmann::json reply;
  if (verb == "status") {
    const auto& s = pipeline_.stats();  // counters read racily: a snapshot for operators
    reply = {{"node", config_.name},
             {"role", firmware::RoleName(static_cast<firmware::Role>(status_role_.load()))},
             {"epoch", status_epoch_.load()},
             {"checkpoints", checkpoints_.load()},
             {"divergences", divergences_.load()},
             {"joins_served", joins_served_.load()},
             {"client_rx", s.client_rx},
             {"client_tx", s.client_tx},
             {"released", s.released},
             {"inputs_stamped", s.inputs_stamped},
             {"mirrored_delivered", s.mirrored_delivered},
             {"stale_records", s.stale_records}};
    const auto& l = pipeline_.sync_link().stats();
    reply["sync"] = {{"frames_sent", l.frames_sent},   {"frames_received", l.frames_received},
                     {"retransmits", l.retransmits},   {"duplicates", l.duplicates},
                     {"gaps", l.gaps},                 {"malformed", l.malformed},
                     {"records_delivered", l.records_delivered}, {"in_flight", l.in_flight},
                     {"srtt_us", l.srtt_ns / 1000},   {"peer_restarts", l.peer_restarts}};
  } else if (verb == "corrupt") {
    std::string gpa_text;
    uint64_t len = 0;
    in >> gpa_text >> len;
    uint64_t gpa = 0;
    try {
      gpa = std::stoull(gpa_text, nullptr, 0);
    } catch (const std::exception&) {
      return ErrorReply("usage: corrupt GPA LEN (GPA decimal or 0x-hex)");
    }
    if (len == 0 || len > (64u << 20)) return ErrorReply("corrupt: LEN must be 1 to 64 MiB");
    std::vector<uint8_t> bytes(len);
    auto& mem = guest_.memory();
    if (auto r = mem.Read(gpa, bytes); !r) return ErrorReply(r.error().ToString());
    for (auto& b : bytes) b ^= 0xff;
    if (auto w = mem.Write(gpa, bytes); !w) return ErrorReply(w.error().ToString());
    log_.Emit("fault", {{"what", "corrupt"}, {"gpa", gpa}, {"len", len}});
    reply = {{"ok", true}};
  } else if (verb == "drop-sync") {
    uint64_t ppm = 0;
    if (!(in >> ppm) || ppm > 1'000'000) return ErrorReply("usage: drop-sync PPM (0 to 1000000 frames per million)");
    Post([this, ppm](uint64_t) {
      if (pipeline_.sync_tx()) pipeline_.sync_tx()->set_drop_ppm(static_cast<uint32_t>(ppm), 0x5EED + config_.node_id);
    });
    log_.Emit("fault", {{"what", "drop-sync"}, {"ppm", ppm}});
    reply = {{"ok", true}};
  } else if (verb == "stall") {
    uint64_t ms = 0;
    if (!(in >> ms) || ms == 0 || ms > 600'000) return ErrorReply("usage: stall MS (1 to 600000: the control thread stops)");
    stall_until_ns_ = dataplane::NowNs() + ms * 1'000'000;
    log_.Emit("fault", {{"what", "stall"}, {"ms", ms}});
    reply = {{"ok", true}};
  } else if (verb == "checkpoint") {
    if (status_role_.load() != static_cast<int>(firmware::Role::kPrimary)) {
      return ErrorReply("checkpoint: only a primary takes checkpoints");
    }
    checkpoint_requested_ = true;
    bell_.Ring();
    reply = {{"ok", true}};
  } else {
    return ErrorReply("unknown request '" + verb + "' (status, checkpoint, corrupt GPA LEN, drop-sync PPM, stall MS)");
  }
  return reply.dump();
}

}  // namespace twinstep::replication
