// The XRT backend's register protocol (configuration, time, commands, event
// FIFO polling) run against the Verilator model of the same RTL, through the
// golden vectors: what runs on a card, minus the card.
#include "fpga/xrt/xrt_comparator.h"

#include <gtest/gtest.h>

#include <cstring>

#include "dataplane/comparator/conformance.h"
#include "fpga/csr_map.h"
#include "fpga/sim/rtl_model.h"

namespace twinstep::fpga {
namespace {

// Registers and streaming ports of the model, as XRT and QDMA would give them.
class ModelCard final : public RegisterWindow, public FramePort {
 public:
  explicit ModelCard(RtlModel* m) : m_(m) {}
  void Write(uint32_t offset, uint32_t value) override { m_->WriteCsr(offset, value); }
  uint32_t Read(uint32_t offset) override { return m_->ReadCsr(offset); }
  bool SendFrame(std::span<const uint8_t> frame, uint32_t event_id) override {
    m_->QueueFrame(frame, event_id);
    return true;
  }
  bool SendRecord(std::span<const uint8_t, 32> beat) override {
    uint64_t w[4];
    std::memcpy(w, beat.data(), 32);
    m_->QueueRecord(w[0], w[1], static_cast<uint32_t>(w[2]), w[3]);
    return true;
  }

 private:
  RtlModel* m_;
};

TEST(XrtComparatorTest, GoldenVectorsThroughTheRegisterInterface) {
  const auto paths = compare::GoldenVectorPaths();
  ASSERT_FALSE(paths.empty());
  for (const auto& p : paths) {
    auto v = compare::golden::Load(p);
    ASSERT_TRUE(v.has_value()) << v.error().ToString();
    std::vector<std::unique_ptr<RtlModel>> models;
    ModelCard* port = nullptr;
    auto report = compare::RunVector(*v, [&](const compare::ComparatorConfig& c, compare::VerdictSink* s) {
      models.push_back(std::make_unique<RtlModel>(RtlModelOptions{.verdict_stream = false}));
      auto card = std::make_unique<ModelCard>(models.back().get());
      port = card.get();
      auto backend = XrtComparator::Create(std::move(card), port, c, s);
      if (!backend.has_value()) {
        ADD_FAILURE() << XrtErrorMessage(backend.error());
        return std::unique_ptr<compare::Comparator>();
      }
      return std::unique_ptr<compare::Comparator>(std::move(*backend));
    });
    EXPECT_EQ(report.steps, v->steps.size()) << p;
    for (const auto& f : report.failures) ADD_FAILURE() << f;
  }
}

TEST(XrtComparatorTest, RejectsAnIpThatIsNotTwinstep) {
  class Zeros final : public RegisterWindow {
    void Write(uint32_t, uint32_t) override {}
    uint32_t Read(uint32_t) override { return 0; }
  };
  auto r = XrtComparator::Create(std::make_unique<Zeros>(), nullptr, {}, nullptr);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), XrtError::kBadId);
}

TEST(XrtComparatorTest, RejectsAConfigurationAboveTheCardsBounds) {
  RtlModel m;
  auto card = std::make_unique<ModelCard>(&m);
  ModelCard* port = card.get();
  compare::ComparatorConfig big;  // 8192 held events: above the model's 1024
  auto r = XrtComparator::Create(std::move(card), port, big, nullptr, /*strict_bounds=*/true);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), XrtError::kTooSmall);
}

}  // namespace
}  // namespace twinstep::fpga
