// The pipeline in one process (one EAL): the comparator conformance suite and
// golden vectors through a real primary and secondary joined by a memif sync
// link; solo mode over a memif client port; role changes; port probe errors;
// the virtio-net backend adapter over the guest port.
#include "dataplane/pipeline.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <rte_dev.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "dataplane/comparator/golden.h"
#include "dataplane/core/checkpoint_transfer.h"
#include "dataplane/eal.h"
#include "dataplane/synthetic_guest.h"
#ifdef TWINSTEP_HAVE_NET_BACKEND
#include "dataplane/guest_backend.h"
#endif

namespace twinstep::dataplane {
namespace {

std::string g_dir;
std::unique_ptr<EthPort> g_null0, g_null1, g_sync0, g_sync1, g_lan_node, g_lan_client;

class EalEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    g_dir = "/tmp/twdp-pl-" + std::to_string(getpid());
    std::system(("mkdir -p " + g_dir).c_str());
    EalConfig c;
    c.file_prefix = "twdp-pl-" + std::to_string(getpid());
    auto r = InitEal(c);
    ASSERT_TRUE(r.has_value()) << r.error().Message();
    auto open = [](const char* role, const char* dev, std::string args, std::unique_ptr<EthPort>* out) {
      auto p = EthPort::Open({role, dev, std::move(args)}, EalMode::kSimulation);
      ASSERT_TRUE(p.has_value()) << p.error().Message();
      *out = std::move(*p);
    };
    open("client", "net_null0", "no-rx=1", &g_null0);
    open("client", "net_null1", "no-rx=1", &g_null1);
    open("sync", "net_memif0", "role=server,id=0,socket=" + g_dir + "/sync.sock", &g_sync0);
    open("sync", "net_memif1", "role=client,id=0,socket=" + g_dir + "/sync.sock", &g_sync1);
    open("client", "net_memif2", "role=server,id=0,socket=" + g_dir + "/lan.sock", &g_lan_node);
    open("client", "net_memif3", "role=client,id=0,socket=" + g_dir + "/lan.sock", &g_lan_client);
    for (auto* p : {&g_sync0, &g_sync1, &g_lan_node, &g_lan_client}) ASSERT_TRUE((*p)->WaitLinkUp(30000));
  }
  void TearDown() override {
    for (auto* p : {&g_null0, &g_null1, &g_sync0, &g_sync1, &g_lan_node, &g_lan_client}) p->reset();
    std::system(("rm -rf " + g_dir).c_str());
    std::error_code ec;
    std::filesystem::remove_all(RuntimeDir("twdp-pl-" + std::to_string(getpid())), ec);  // still held: remove by hand
  }
};
const auto* const g_env = ::testing::AddGlobalTestEnvironment(new EalEnvironment);

// A frame as the VMM would hand it over: chained 2 KiB segments when it is large.
rte_mbuf* MakeMbuf(std::span<const uint8_t> frame) {
  rte_mbuf* head = nullptr;
  size_t off = 0;
  do {
    rte_mbuf* m = rte_pktmbuf_alloc(MbufPool());
    const size_t n = std::min<size_t>(frame.size() - off, rte_pktmbuf_tailroom(m));
    std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(n)), frame.data() + off, n);
    off += n;
    if (head == nullptr) {
      head = m;
    } else if (rte_pktmbuf_chain(head, m) != 0) {
      rte_pktmbuf_free(m);
      break;
    }
  } while (off < frame.size());
  return head;
}

// Collects verdicts, naming each held packet by the vector's handle.
class Collector final : public PipelineObserver, public ReplicationEvents {
 public:
  void OnVerdict(const compare::Verdict& v, const rte_mbuf* m) override {
    compare::Verdict out = v;
    if (v.has_event) {
      auto it = handles.find(m);
      out.handle = it == handles.end() ? UINT64_MAX : it->second;
      if (v.kind == compare::VerdictKind::kRelease || v.kind == compare::VerdictKind::kOverflow) handles.erase(m);
    }
    got.push_back(out);
  }
  void OnDivergence(const DivergenceEvent&) override { ++divergences; }
  void OnPeerRecord(const wire::Record&, uint64_t, uint64_t) override {}
  std::map<const rte_mbuf*, uint64_t> handles;
  std::vector<compare::Verdict> got;
  uint64_t divergences = 0;
};

// Polls both pipelines until the primary has `records` digest records or 10 s pass.
bool PollUntilRecords(Pipeline& p, Pipeline& s, uint64_t records, uint64_t now) {
  for (int i = 0; i < 1'000'000 && p.stats().records_received < records; ++i) {
    s.PollOnce(now);
    p.PollOnce(now);
    if (i > 1000) usleep(10);
  }
  return p.stats().records_received >= records;
}

// Lets both links go quiet so that the next pipelines start on an empty wire.
void Drain(Pipeline& p, Pipeline& s, uint64_t now) {
  for (int i = 0; i < 200; ++i) {
    p.PollOnce(now);
    s.PollOnce(now);
    usleep(200);
  }
}

TEST(PipelineTest, ConformanceSuitePassesThroughTheRealPipeline) {
  const auto paths = compare::GoldenVectorPaths();
  ASSERT_FALSE(paths.empty());
  uint64_t epoch_time = 0;
  for (const auto& path : paths) {
    auto v = compare::golden::Load(path);
    ASSERT_TRUE(v.has_value()) << v.error().ToString();
    PipelineConfig pc;
    pc.comparator = v->config;
    pc.advance_interval_ns = UINT64_MAX;  // timeouts run only at the vector's `adv` steps
    Collector col;
    GuestPort gp(MbufPool()), gs(MbufPool());
    pc.role = Role::kPrimary;
    Pipeline primary(pc, g_null0.get(), g_sync0.get(), &gp, &col);
    pc.role = Role::kSecondary;
    Pipeline secondary(pc, g_null1.get(), g_sync1.get(), &gs, nullptr);
    primary.set_observer(&col);
    // Vector times restart at 0 for each file; the links' clocks must not run backwards.
    const uint64_t base = epoch_time;
    uint64_t records = 0, last = base;
    size_t failures = 0, verdicts = 0;
    for (const auto& step : v->steps) {
      const uint64_t now = base + step.time_ns;
      last = now;
      col.got.clear();
      switch (step.kind) {
        case compare::golden::StepKind::kOutput: {
          rte_mbuf* m = MakeMbuf(step.frame);
          col.handles[m] = step.handle;
          ASSERT_EQ(gp.GuestTransmit(&m, 1), 1u);
          primary.PollOnce(now);
          break;
        }
        case compare::golden::StepKind::kSecondary: {
          rte_mbuf* m = MakeMbuf(step.frame);
          ASSERT_EQ(gs.GuestTransmit(&m, 1), 1u);
          secondary.PollOnce(now);
          ASSERT_TRUE(PollUntilRecords(primary, secondary, ++records, now)) << v->name << ":" << step.line;
          break;
        }
        case compare::golden::StepKind::kRecord: {
          wire::Record r;
          r.type = wire::RecordType::kOutputDigest;
          r.digest = step.record;
          ASSERT_TRUE(secondary.sync_link().Add(r, now).has_value());
          secondary.Flush(now);
          ASSERT_TRUE(PollUntilRecords(primary, secondary, ++records, now)) << v->name << ":" << step.line;
          break;
        }
        case compare::golden::StepKind::kAdvance: primary.AdvanceComparator(now); break;
        case compare::golden::StepKind::kReleaseAll: primary.CheckpointDone(0, now); break;
      }
      verdicts += col.got.size();
      std::vector<compare::Verdict> want = step.expect, got = col.got;
      compare::golden::SortVerdicts(want);
      compare::golden::SortVerdicts(got);
      const bool same = want.size() == got.size() &&
                        std::equal(want.begin(), want.end(), got.begin(), compare::golden::SameVerdict);
      if (!same && ++failures <= 5) {
        std::string msg = v->name + ":" + std::to_string(step.line) + ":";
        for (const auto& w : want) msg += "\n  expected " + compare::golden::ToString(w);
        for (const auto& g : got) msg += "\n  got      " + compare::golden::ToString(g);
        ADD_FAILURE() << msg;
      }
    }
    EXPECT_EQ(failures, 0u) << v->name;
    EXPECT_GT(verdicts, 0u) << v->name;
    EXPECT_EQ(secondary.stats().client_tx, 0u);
    Drain(primary, secondary, last);
    epoch_time = last + 1'000'000'000;
    // Held packets still in the pipeline are freed by its destructor.
  }
}

// A controller that sends a checkpoint through its OnPoll hook, and one that receives it.
class CheckpointController final : public ReplicationEvents {
 public:
  explicit CheckpointController(std::span<const uint8_t> image) : sender(7, wire::CheckpointKind::kJoin, image, 1000) {}
  CheckpointController() : sender(0, wire::CheckpointKind::kJoin, {}, 1000) { sender_done = true; }
  void OnDivergence(const DivergenceEvent&) override {}
  void OnPeerRecord(const wire::Record& r, uint64_t, uint64_t) override { receiver.OnRecord(r); }
  size_t OnPoll(SyncLink& link, uint64_t now_ns) override {
    if (sender_done) return 0;
    sender_done = sender.Pump(link, now_ns);
    return 1;
  }
  CheckpointSender sender;
  bool sender_done = false;
  CheckpointReceiver receiver;
};

TEST(PipelineTest, ControllerSendsACheckpointThroughThePollHook) {
  std::vector<uint8_t> image(300'000);
  for (size_t i = 0; i < image.size(); ++i) image[i] = static_cast<uint8_t>(i * 7);
  CheckpointController tx(image), rx;
  GuestPort gp(MbufPool()), gs(MbufPool());
  PipelineConfig pc;
  pc.role = Role::kPrimary;
  Pipeline primary(pc, g_null0.get(), g_sync0.get(), &gp, &tx);
  pc.role = Role::kSecondary;
  Pipeline secondary(pc, g_null1.get(), g_sync1.get(), &gs, &rx);
  for (int i = 0; i < 2'000'000 && rx.receiver.state() != CheckpointReceiver::State::kComplete; ++i) {
    primary.PollOnce(NowNs());
    secondary.PollOnce(NowNs());
  }
  ASSERT_EQ(rx.receiver.state(), CheckpointReceiver::State::kComplete);
  EXPECT_EQ(rx.receiver.data(), image);
  Drain(primary, secondary, NowNs());
}

// Jumbo sync frames over a memif with 9 KiB buffers: received into one jumbo
// mbuf each, or (a port opened with standard RX buffers) chained over several
// mbufs and read whole. Either way the checkpoint arrives intact.
TEST(PipelineTest, JumboSyncFramesCarryACheckpointWholeOrChained) {
  struct Case {
    const char* name;
    uint32_t rx_frame_bytes;  // the RX pool: jumbo, or standard (chained frames)
    int first_device;
  };
  for (const Case& c : {Case{"jumbo RX mbufs", 9014, 4}, Case{"chained RX mbufs", kMbufDataBytes, 6}}) {
    SCOPED_TRACE(c.name);
    const std::string sock = g_dir + "/jumbo" + std::to_string(c.first_device) + ".sock";
    EthPortOptions po;
    po.max_rx_frame_bytes = c.rx_frame_bytes;
    auto a = EthPort::Open({"sync", "net_memif" + std::to_string(c.first_device), "role=server,id=0,bsize=9216,socket=" + sock},
                           EalMode::kSimulation, po);
    ASSERT_TRUE(a.has_value()) << a.error().Message();
    auto b = EthPort::Open({"sync", "net_memif" + std::to_string(c.first_device + 1), "role=client,id=0,bsize=9216,socket=" + sock},
                           EalMode::kSimulation, po);
    ASSERT_TRUE(b.has_value()) << b.error().Message();
    ASSERT_TRUE((*a)->WaitLinkUp(30000) && (*b)->WaitLinkUp(30000));
    std::vector<uint8_t> image(300'000);
    for (size_t i = 0; i < image.size(); ++i) image[i] = static_cast<uint8_t>(i * 13 + 1);
    CheckpointController tx(image), rx;
    GuestPort gp(MbufPool()), gs(MbufPool());
    PipelineConfig pc;
    pc.sync.max_frame_bytes = 9014;
    pc.role = Role::kPrimary;
    Pipeline primary(pc, g_null0.get(), a->get(), &gp, &tx);
    pc.role = Role::kSecondary;
    Pipeline secondary(pc, g_null1.get(), b->get(), &gs, &rx);
    for (int i = 0; i < 2'000'000 && rx.receiver.state() != CheckpointReceiver::State::kComplete; ++i) {
      primary.PollOnce(NowNs());
      secondary.PollOnce(NowNs());
    }
    ASSERT_EQ(rx.receiver.state(), CheckpointReceiver::State::kComplete);
    EXPECT_EQ(rx.receiver.data(), image);
    const auto& st = primary.sync_link().stats();
    EXPECT_GT(st.bytes_sent, 4096 * st.frames_sent);  // the frames were jumbo
    EXPECT_EQ(secondary.sync_link().stats().malformed, 0u);
    Drain(primary, secondary, NowNs());
  }
}

TEST(PipelineTest, PrimaryGoingSoloReleasesWhatItHeld) {
  PipelineConfig pc;
  pc.role = Role::kPrimary;
  Collector col;
  GuestPort gp(MbufPool());
  Pipeline primary(pc, g_null0.get(), nullptr, &gp, &col);
  primary.set_observer(&col);
  const std::vector<uint8_t> frame(64, 0xAB);
  for (int i = 0; i < 5; ++i) {
    rte_mbuf* m = MakeMbuf(frame);
    ASSERT_EQ(gp.GuestTransmit(&m, 1), 1u);
  }
  primary.PollOnce(1000);
  EXPECT_EQ(primary.stats().released, 0u);
  primary.PostRole(Role::kSolo);  // the controller's thread would do this
  primary.PollOnce(2000);
  EXPECT_EQ(primary.role(), Role::kSolo);
  EXPECT_EQ(primary.stats().released, 5u);
  EXPECT_EQ(primary.stats().client_tx, 5u);
  rte_mbuf* m = MakeMbuf(frame);
  ASSERT_EQ(gp.GuestTransmit(&m, 1), 1u);
  primary.PollOnce(3000);
  EXPECT_EQ(primary.stats().client_tx, 6u) << "solo releases at once";
}

TEST(PipelineTest, AClosedReleaseGateHoldsReleasedOutputs) {
  PipelineConfig pc;
  pc.role = Role::kSolo;
  GuestPort gp(MbufPool());
  Pipeline solo(pc, g_null0.get(), nullptr, &gp, nullptr);
  solo.SetReleaseGate(false);  // the supervisor asks the witness
  const std::vector<uint8_t> frame(64, 0xCD);
  for (int i = 0; i < 3; ++i) {
    rte_mbuf* m = MakeMbuf(frame);
    ASSERT_EQ(gp.GuestTransmit(&m, 1), 1u);
  }
  solo.PollOnce(1000);
  solo.PollOnce(2000);
  EXPECT_EQ(solo.stats().client_tx, 0u);
  EXPECT_GT(solo.stats().gate_closed_polls, 0u);
  solo.SetReleaseGate(true);
  solo.PollOnce(3000);
  EXPECT_EQ(solo.stats().client_tx, 3u) << "in order, none lost";
}

// A digest of another epoch belongs to a state one replica has left.
TEST(PipelineTest, PrimaryDropsDigestsOfAnotherEpoch) {
  GuestPort gp(MbufPool()), gs(MbufPool());
  PipelineConfig pc;
  pc.role = Role::kPrimary;
  Collector col;
  Pipeline primary(pc, g_null0.get(), g_sync0.get(), &gp, &col);
  pc.role = Role::kSecondary;
  Pipeline secondary(pc, g_null1.get(), g_sync1.get(), &gs, nullptr);
  const std::vector<uint8_t> frame(80, 0x5A);
  rte_mbuf* m = MakeMbuf(frame);
  ASSERT_EQ(gs.GuestTransmit(&m, 1), 1u);
  secondary.SetEpoch(7);  // the secondary's frames say epoch 7, the primary is in 0
  ASSERT_TRUE(PollUntilRecords(primary, secondary, 1, NowNs()));
  EXPECT_EQ(primary.stats().stale_records, 1u);
  primary.CheckpointDone(7, NowNs());
  secondary.CheckpointDone(7, NowNs());
  m = MakeMbuf(frame);
  ASSERT_EQ(gs.GuestTransmit(&m, 1), 1u);
  m = MakeMbuf(frame);
  ASSERT_EQ(gp.GuestTransmit(&m, 1), 1u);
  ASSERT_TRUE(PollUntilRecords(primary, secondary, 2, NowNs()));
  primary.PollOnce(NowNs());
  EXPECT_EQ(primary.stats().stale_records, 1u);
  EXPECT_EQ(primary.stats().released, 1u) << "both numbered 0 in the new epoch: a match";
  EXPECT_EQ(col.divergences, 0u);
  Drain(primary, secondary, NowNs());
}

TEST(PipelineTest, SoloAnswersClientsThroughTheGuest) {
  PipelineConfig pc;
  pc.role = Role::kSolo;
  GuestPort gp(MbufPool(), 64);
  SyntheticGuest guest(&gp, MbufPool());
  Pipeline solo(pc, g_lan_node.get(), nullptr, &gp, nullptr);
  // A UDP request: Ethernet + IPv4 + UDP + 8 bytes.
  std::vector<uint8_t> req = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0, 0, 36, 0, 0, 0, 0, 64, 17, 0, 0,
                              10, 0, 0, 1, 10, 0, 0, 2, 0x10, 0, 0, 7, 0, 16, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8};
  const int n = 200;  // more than the guest queue holds: back-pressure, not loss
  int sent = 0, got = 0;
  for (int i = 0; i < 200000 && got < n; ++i) {
    if (sent < n) {
      rte_mbuf* m = MakeMbuf(req);
      if (g_lan_client->TxBurst(&m, 1) == 1) {
        ++sent;
      } else {
        rte_pktmbuf_free(m);
      }
    }
    solo.PollOnce(NowNs());
    if (i % 3 == 0) guest.Poll();  // a slow guest
    rte_mbuf* rx[32];
    const uint16_t k = g_lan_client->RxBurst(rx, 32);
    got += k;
    if (k) rte_pktmbuf_free_bulk(rx, k);
  }
  EXPECT_EQ(got, n);
  EXPECT_EQ(solo.stats().client_tx, static_cast<uint64_t>(n));
  EXPECT_EQ(solo.stats().inputs_to_guest, static_cast<uint64_t>(n));
}

TEST(PipelineTest, ProbeErrorsNameThePortAndTheProblem) {
  auto pci = ProbePort({"client", "0000:99:1f.7", ""}, EalMode::kDeployed);
  ASSERT_FALSE(pci.has_value());
  EXPECT_EQ(pci.error().code, EalErrc::kPortMissing);
  EXPECT_NE(pci.error().Message().find("0000:99:1f.7"), std::string::npos);
  auto pci_sim = ProbePort({"client", "0000:99:1f.7", ""}, EalMode::kSimulation);
  ASSERT_FALSE(pci_sim.has_value());
  EXPECT_EQ(pci_sim.error().code, EalErrc::kBadConfig);
  auto bad_arg = ProbePort({"sync", "net_memif9", "role=bogus"}, EalMode::kSimulation);
  ASSERT_FALSE(bad_arg.has_value());
  EXPECT_EQ(bad_arg.error().code, EalErrc::kBadPortArgs);
  EXPECT_NE(bad_arg.error().Message().find("sync port 'net_memif9"), std::string::npos) << bad_arg.error().Message();
  auto no_iface = ProbePort({"client", "net_af_packet9", "iface=twdp-nonexistent"}, EalMode::kSimulation);
  ASSERT_FALSE(no_iface.has_value());
  EXPECT_EQ(no_iface.error().code, EalErrc::kBadPortArgs);
  auto unnamed = ProbePort({"client", "eth0", ""}, EalMode::kSimulation);
  ASSERT_FALSE(unnamed.has_value());
  EXPECT_EQ(unnamed.error().code, EalErrc::kPortMissing);
  auto again = InitEal({});
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, EalErrc::kAlreadyInitialized);
}

// DPDK 22.11's af_packet PMD names its fanout group getpid() XOR ifindex; a
// group of that id on another interface (another node's port, here a socket
// of this test) makes the probe fail. The error names it and says to start
// again; once the id is free the same port opens.
TEST(PipelineTest, AnAfPacketFanoutIdTakenElsewhereIsNamed) {
  if (getuid() != 0) GTEST_SKIP() << "needs root (creates a veth pair)";
  const std::string a = "twdpf" + std::to_string(getpid() % 100000) + "a", b = a.substr(0, a.size() - 1) + "b";
  ASSERT_EQ(std::system(("ip link add " + a + " type veth peer name " + b + " && ip link set " + a + " up && ip link set " +
                         b + " up").c_str()),
            0);
  const unsigned index_a = if_nametoindex(a.c_str());
  const int holder = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
  sockaddr_ll on_b{};
  on_b.sll_family = AF_PACKET;
  on_b.sll_protocol = htons(ETH_P_ALL);
  on_b.sll_ifindex = static_cast<int>(if_nametoindex(b.c_str()));
  const uint32_t arg = AfPacketFanoutArg(index_a);  // the id this process's port on `a` will ask for
  // sockaddr_ll is the sockaddr an AF_PACKET socket binds to.
  ASSERT_EQ(bind(holder, reinterpret_cast<const sockaddr*>(&on_b), sizeof on_b), 0);
  ASSERT_EQ(setsockopt(holder, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg), 0);

  auto taken = ProbePort({"client", "net_af_packet7", "iface=" + a}, EalMode::kSimulation);
  ASSERT_FALSE(taken.has_value());
  EXPECT_EQ(taken.error().code, EalErrc::kFanoutCollision);
  EXPECT_NE(taken.error().Message().find("getpid() XOR ifindex"), std::string::npos) << taken.error().Message();
  EXPECT_NE(taken.error().Message().find("start the node again"), std::string::npos) << taken.error().Message();

  close(holder);
  auto free_again = ProbePort({"client", "net_af_packet8", "iface=" + a}, EalMode::kSimulation);
  EXPECT_TRUE(free_again.has_value()) << free_again.error().Message();
  // Closed before its interface goes. (DPDK 22.11's af_packet prints "EAL:
  // Error: Invalid memory" here: its release frees a MAC address that lives
  // inside the port's private data.)
  if (free_again) rte_eal_hotplug_remove("vdev", "net_af_packet8");
  std::system(("ip link del " + a).c_str());
}

TEST(GuestPortTest, FullQueuesPushBack) {
  GuestPort gp(MbufPool(), 4);
  const std::vector<uint8_t> frame(60, 1);
  std::vector<rte_mbuf*> ms;
  for (int i = 0; i < 6; ++i) ms.push_back(MakeMbuf(frame));
  EXPECT_EQ(gp.PushToGuest(ms.data(), 6), 4u);  // EnqueueBurst: the caller keeps the rest
  EXPECT_EQ(gp.ToGuestRoom(), 0u);
  rte_mbuf* out[8];
  EXPECT_EQ(gp.GuestReceive(out, 8), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out[i], ms[i]) << "order kept";
  rte_pktmbuf_free_bulk(ms.data(), 6);
}

#ifdef TWINSTEP_HAVE_NET_BACKEND
TEST(GuestNetBackendTest, CopiesBothWaysWithBackPressure) {
  GuestPort gp(MbufPool(), 2);
  GuestNetBackend be(&gp);
  const std::vector<uint8_t> frame = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00, 42};
  EXPECT_EQ(be.Send(frame), host::NetStatus::kOk);
  EXPECT_EQ(be.Send(frame), host::NetStatus::kOk);
  EXPECT_EQ(be.Send(frame), host::NetStatus::kAgain) << "full: back-pressure, not a drop";
  rte_mbuf* m[2];
  ASSERT_EQ(gp.PopFromGuest(m, 2), 2u);
  EXPECT_EQ(std::vector<uint8_t>(rte_pktmbuf_mtod(m[0], uint8_t*), rte_pktmbuf_mtod(m[0], uint8_t*) + frame.size()), frame);
  SetInputSeq(m[0], 0);
  SetInputSeq(m[1], 1);
  ASSERT_EQ(gp.PushToGuest(m, 2), 2u);
  uint8_t buf[64];
  size_t len = 0;
  ASSERT_EQ(be.Receive(buf, &len), host::NetStatus::kOk);
  EXPECT_EQ(std::vector<uint8_t>(buf, buf + len), frame);
  uint8_t tiny[4];
  EXPECT_EQ(be.Receive(tiny, &len), host::NetStatus::kError);
  EXPECT_EQ(be.Receive(buf, &len), host::NetStatus::kAgain);
}

// An idle device sleeps on the backend's fd only when nothing waits, and the
// dataplane's next push makes the fd readable; the guest's transmit rings the
// poll loop's bell the same way.
TEST(GuestNetBackendTest, DoorbellsWakeEachSide) {
  GuestPort gp(MbufPool(), 4);
  GuestNetBackend be(&gp);
  pollfd p{be.ReadableFd(), POLLIN, 0};
  ASSERT_GE(p.fd, 0);
  ASSERT_TRUE(be.ArmReadable()) << "empty: the device may sleep";
  EXPECT_EQ(poll(&p, 1, 0), 0) << "nothing rung yet";
  rte_mbuf* m = rte_pktmbuf_alloc(MbufPool());
  ASSERT_NE(m, nullptr);
  *reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, 1)) = 7;
  SetInputSeq(m, 0);
  ASSERT_EQ(gp.PushToGuest(&m, 1), 1u);
  EXPECT_EQ(poll(&p, 1, 0), 1) << "the push rang the guest's bell";
  EXPECT_FALSE(be.ArmReadable()) << "a frame waits: no sleep";
  uint8_t buf[64];
  size_t len = 0;
  ASSERT_EQ(be.Receive(buf, &len), host::NetStatus::kOk);
  ASSERT_TRUE(be.ArmReadable());
  EXPECT_EQ(poll(&p, 1, 0), 0) << "arming cleared the old ring";

  Doorbell& dp = gp.dataplane_bell();
  dp.Arm();
  const std::vector<uint8_t> frame(60, 3);
  EXPECT_EQ(be.Send(frame), host::NetStatus::kOk);
  EXPECT_TRUE(dp.Wait(30'000'000'000)) << "guest output wakes the poll loop";
  rte_mbuf* out = nullptr;
  ASSERT_EQ(gp.PopFromGuest(&out, 1), 1u);
  rte_pktmbuf_free(out);
}

// Inputs numbered 0..n-1, each one byte long holding its number.
void PushInputs(GuestPort& gp, uint64_t first, uint64_t n) {
  for (uint64_t s = first; s < first + n; ++s) {
    rte_mbuf* m = rte_pktmbuf_alloc(MbufPool());
    ASSERT_NE(m, nullptr);
    *reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, 1)) = static_cast<uint8_t>(s);
    SetInputSeq(m, s);
    ASSERT_EQ(gp.PushToGuest(&m, 1), 1u);
  }
}

std::vector<uint8_t> ReceiveAll(GuestNetBackend& be) {
  std::vector<uint8_t> got;
  uint8_t buf[64];
  size_t len = 0;
  while (be.Receive(buf, &len) == host::NetStatus::kOk) got.push_back(buf[0]);
  return got;
}

// A restored secondary gets every input after the primary's checkpoint exactly
// once, whether it was behind the primary or ahead of it.
TEST(GuestNetBackendTest, RestoreDeliversEachInputOnceBehindOrAhead) {
  struct Case {
    const char* name;
    uint64_t primary_consumed;    // inputs the primary's guest took before the checkpoint
    uint64_t primary_queued;      // inputs waiting in the primary's queue (pending in its state)
    uint64_t secondary_consumed;  // inputs the secondary's guest took before the restore
  };
  const Case cases[] = {{"secondary behind", 6, 2, 3}, {"secondary ahead", 3, 1, 7}, {"in step", 5, 0, 5}};
  constexpr uint64_t kInputs = 10;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    GuestPort pport(MbufPool(), 64), sport(MbufPool(), 64);
    GuestNetBackend primary(&pport), secondary(&sport);
    secondary.set_keep_log(true);
    PushInputs(pport, 0, c.primary_consumed + c.primary_queued);
    uint8_t buf[64];
    size_t len = 0;
    for (uint64_t i = 0; i < c.primary_consumed; ++i) ASSERT_EQ(primary.Receive(buf, &len), host::NetStatus::kOk);
    primary.TakeQueued();  // the checkpoint: paused, queue drained into the state
    const std::vector<uint8_t> state = primary.SaveState();
    PushInputs(sport, 0, kInputs);  // every mirrored input reached the secondary
    for (uint64_t i = 0; i < c.secondary_consumed; ++i) ASSERT_EQ(secondary.Receive(buf, &len), host::NetStatus::kOk);
    secondary.TakeQueued();
    ASSERT_TRUE(secondary.LoadState(state).has_value());
    std::vector<uint8_t> want;
    for (uint64_t s = c.primary_consumed; s < kInputs; ++s) want.push_back(static_cast<uint8_t>(s));
    EXPECT_EQ(ReceiveAll(secondary), want);
    // The primary goes on from its state the same way.
    PushInputs(pport, c.primary_consumed + c.primary_queued, kInputs - c.primary_consumed - c.primary_queued);
    EXPECT_EQ(ReceiveAll(primary), want);
  }
}

TEST(GuestNetBackendTest, CorruptStateIsRejectedAndChangesNothing) {
  GuestPort port(MbufPool(), 8);
  GuestNetBackend be(&port);
  PushInputs(port, 0, 2);
  be.TakeQueued();
  std::vector<uint8_t> state = be.SaveState();
  GuestNetBackend other(&port);
  std::vector<uint8_t> truncated(state.begin(), state.end() - 1);
  auto r = other.LoadState(truncated);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("truncated"), std::string::npos) << r.error();
  std::vector<uint8_t> bad_magic = state;
  bad_magic[0] ^= 1;
  EXPECT_FALSE(other.LoadState(bad_magic).has_value());
  EXPECT_EQ(other.pending(), 0u);
  EXPECT_EQ(other.next_input_seq(), 0u);
  ASSERT_TRUE(other.LoadState(state).has_value());
  EXPECT_EQ(other.pending(), 2u);
  EXPECT_EQ(other.next_input_seq(), 2u);
}
#endif

}  // namespace
}  // namespace twinstep::dataplane
