// report.json, requests.csv and summary.txt of a sim run (see report.h).
#include "simulation/report.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace twinstep::sim {
namespace {

SimResult<void> WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return SimFail(SimErrc::kReport, path);
  return {};
}

nlohmann::json TotalsJson(const WorkloadTotals& t) {
  return {{"requests", t.requests},
          {"sets", t.sets},
          {"gets", t.gets},
          {"ok", t.ok},
          {"acked_writes", t.acked_writes},
          {"wrong_replies", t.wrong},
          {"server_errors", t.server_errors},
          {"unanswered", t.unanswered},
          {"resends", t.resends},
          {"duplicate_replies", t.duplicate_replies},
          {"stray_replies", t.stray_replies},
          {"throttled", t.throttled},
          {"verified_keys", t.verified_keys},
          {"lost_acked_writes", t.lost_acked_writes},
          {"verify_unanswered", t.verify_unanswered},
          {"latency_us", {{"p50", t.p50_us}, {"p99", t.p99_us}, {"p999", t.p999_us}, {"max", t.max_us}}},
          {"rate", t.rate},
          {"longest_gap_ms", t.longest_gap_ms},
          {"longest_gap_start_s", t.longest_gap_start_ns / 1e9}};
}

// Per 100 ms of send time: requests sent, answered ok, failed, and the worst latency.
nlohmann::json Buckets(const RunReport& r) {
  nlohmann::json out = nlohmann::json::array();
  if (!r.records || r.records->empty()) return out;
  const int64_t t0 = static_cast<int64_t>(r.t0 * 1e9);
  struct B {
    uint64_t sent = 0, ok = 0, failed = 0;
    int64_t max_ns = 0;
  };
  std::vector<B> b;
  for (const auto& q : *r.records) {
    if (q.op == Op::kVerify) continue;
    const int64_t i = std::max<int64_t>(0, (q.send_ns - t0) / 100'000'000);
    if (static_cast<size_t>(i) >= b.size()) b.resize(static_cast<size_t>(i) + 1);
    B& x = b[static_cast<size_t>(i)];
    ++x.sent;
    if (q.outcome == Outcome::kOk) {
      ++x.ok;
      x.max_ns = std::max(x.max_ns, q.done_ns - q.send_ns);
    } else {
      ++x.failed;
    }
  }
  for (size_t i = 0; i < b.size(); ++i) {
    out.push_back({{"t", i / 10.0}, {"sent", b[i].sent}, {"ok", b[i].ok}, {"failed", b[i].failed},
                   {"max_latency_us", b[i].max_ns / 1e3}});
  }
  return out;
}

std::string RequestsCsv(const RunReport& r) {
  std::string out = "send_s,latency_us,op,key,write,outcome,sends,replies\n";
  if (!r.records) return out;
  char line[160];
  for (const auto& q : *r.records) {
    const char* op = q.op == Op::kSet ? "set" : q.op == Op::kGet ? "get" : "verify";
    std::snprintf(line, sizeof line, "%.6f,%.1f,%s,%u,%" PRIu64 ",%s,%u,%u\n", q.send_ns / 1e9 - r.t0,
                  q.done_ns < 0 ? -1.0 : (q.done_ns - q.send_ns) / 1e3, op, q.key, q.write_id, OutcomeName(q.outcome),
                  q.sends, q.replies);
    out += line;
  }
  return out;
}

}  // namespace

EventCounts CountEvents(const std::vector<NodeEvent>& events) {
  EventCounts c;
  for (const auto& e : events) {
    if (e.fields.value("source", "") == "sim") {
      if (e.event == "teardown") break;  // events are in time order
      continue;
    }
    if (e.event == "failover") ++c.failovers;
    if (e.event == "divergence") ++c.divergences;
    if (e.event == "checkpoint") ++c.checkpoints;
    if (e.event == "join_end") ++c.joins;
    if (e.event == "role") ++c.role_changes;
    if (e.event == "garp") ++c.garps;
    if (e.event == "role" && (e.fields.value("role", "") == "fenced" || e.fields.value("role", "") == "stopped")) ++c.fenced;
    if (e.event == "error") ++c.errors;
  }
  return c;
}

bool RunReport::Passed() const {
  if (!aborted.empty()) return false;
  for (const auto& c : checks) {
    if (!c.passed) return false;
  }
  return true;
}

std::string SummaryText(const RunReport& r) {
  std::ostringstream s;
  const Scenario& sc = *r.scenario;
  const WorkloadTotals& t = r.totals;
  const EventCounts c = CountEvents(r.events);
  char buf[256];
  s << "twinstep sim: scenario '" << sc.name << "' (" << sc.file << "), mode " << sc.mode << "\n";
  if (!sc.description.empty()) s << "  " << sc.description << "\n";
  std::snprintf(buf, sizeof buf, "ran %.1f s; result: %s\n", r.t_end - r.t0, r.Passed() ? "PASSED" : "FAILED");
  s << buf;
  if (!r.aborted.empty()) s << "aborted: " << r.aborted << "\n";
  s << "\nworkload: " << sc.workload.rate << " req/s target, " << sc.workload.keys << " keys, "
    << sc.workload.set_ratio * 100 << "% sets; sent " << static_cast<uint64_t>(t.rate) << " req/s\n";
  std::snprintf(buf, sizeof buf,
                "  requests %" PRIu64 " (sets %" PRIu64 ", gets %" PRIu64 "), ok %" PRIu64 ", acked writes %" PRIu64
                "\n",
                t.requests, t.sets, t.gets, t.ok, t.acked_writes);
  s << buf;
  std::snprintf(buf, sizeof buf,
                "  wrong replies %" PRIu64 ", server errors %" PRIu64 ", unanswered %" PRIu64 ", resends %" PRIu64
                ", duplicate replies %" PRIu64 "\n",
                t.wrong, t.server_errors, t.unanswered, t.resends, t.duplicate_replies);
  s << buf;
  std::snprintf(buf, sizeof buf, "  read back %" PRIu64 " keys: lost acknowledged writes %" PRIu64 "\n", t.verified_keys,
                t.lost_acked_writes);
  s << buf;
  std::snprintf(buf, sizeof buf, "  latency p50 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.0f us\n", t.p50_us,
                t.p99_us, t.p999_us, t.max_us);
  s << buf;
  std::snprintf(buf, sizeof buf, "  longest client-visible pause %.1f ms, from t=%.3f s\n", t.longest_gap_ms,
                t.longest_gap_start_ns ? t.longest_gap_start_ns / 1e9 - r.t0 : 0.0);
  s << buf;
  for (const auto& f : r.fault_pauses) {
    std::snprintf(buf, sizeof buf, "  after '%s' at %.3f s: clients saw no reply for %.1f ms\n", f.step.c_str(),
                  f.t - r.t0, f.pause_ms);
    s << buf;
  }
  s << "\nnodes: " << c.role_changes << " role changes, " << c.failovers << " failovers, " << c.joins << " joins, "
    << c.checkpoints << " checkpoints, " << c.divergences << " divergences, " << c.errors << " errors\n";
  for (const auto& e : r.events) {
    if (e.event == "checkpoint" || e.event == "spawn") continue;
    std::snprintf(buf, sizeof buf, "  %8.3f  %-7s %s", e.t - r.t0, e.node.c_str(), e.event.c_str());
    s << buf;
    if (e.event == "role") s << " " << e.fields.value("role", "?") << " epoch " << e.fields.value("epoch", 0);
    if (e.event == "exit") s << " (" << e.fields.value("reason", "") << ")";
    if (e.event == "error") s << ": " << e.fields.value("message", "");
    if (e.event == "divergence") s << " " << e.fields.value("kind", "");
    if (e.event == "join_end") s << " " << e.fields.value("ms", 0.0) << " ms";
    s << "\n";
  }
  s << "\nsteps:\n";
  for (const auto& st : r.steps) {
    std::snprintf(buf, sizeof buf, "  %8.3f  %-4s %s", st.t - r.t0, st.ok ? "ok" : "FAIL", st.text.c_str());
    s << buf << (st.detail.empty() ? "" : "  (" + st.detail + ")") << "\n";
  }
  s << "\nchecks:\n";
  for (const auto& ch : r.checks) s << "  " << (ch.passed ? "pass " : "FAIL ") << ch.name << ": " << ch.detail << "\n";
  if (!r.problems.empty()) {
    s << "\nfirst wrong replies:\n";
    for (const auto& p : r.problems) s << "  " << p << "\n";
  }
  return s.str();
}

SimResult<void> WriteReport(const RunReport& r) {
  const Scenario& sc = *r.scenario;
  nlohmann::json j;
  j["scenario"] = {{"name", sc.name}, {"file", sc.file}, {"mode", sc.mode}, {"duration_s", sc.duration_s},
                   {"description", sc.description}};
  j["started"] = r.t0;
  j["elapsed_s"] = r.t_end - r.t0;
  j["passed"] = r.Passed();
  if (!r.aborted.empty()) j["aborted"] = r.aborted;
  j["workload"] = {{"rate", sc.workload.rate},         {"keys", sc.workload.keys},
                   {"set_ratio", sc.workload.set_ratio}, {"value_bytes", sc.workload.value_bytes},
                   {"retry_ms", sc.workload.retry_ms}, {"give_up_ms", sc.workload.give_up_ms},
                   {"totals", TotalsJson(r.totals)}};
  j["requests_per_100ms"] = Buckets(r);
  j["problems"] = r.problems;
  const EventCounts c = CountEvents(r.events);
  j["counts"] = {{"failovers", c.failovers}, {"divergences", c.divergences}, {"checkpoints", c.checkpoints},
                 {"joins", c.joins},         {"role_changes", c.role_changes}, {"garps", c.garps},
                 {"errors", c.errors}};
  nlohmann::json pauses = nlohmann::json::array();
  for (const auto& f : r.fault_pauses) pauses.push_back({{"step", f.step}, {"t", f.t - r.t0}, {"pause_ms", f.pause_ms}});
  j["fault_pauses"] = pauses;
  nlohmann::json ev = nlohmann::json::array();
  for (const auto& e : r.events) {
    nlohmann::json x = e.fields;
    x["t"] = e.t - r.t0;
    x["node"] = e.node;
    x["event"] = e.event;
    ev.push_back(std::move(x));
  }
  j["events"] = std::move(ev);
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : r.steps)
    steps.push_back({{"t", s.t - r.t0}, {"do", s.text}, {"line", s.line}, {"ok", s.ok}, {"detail", s.detail}});
  j["steps"] = std::move(steps);
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& ch : r.checks) checks.push_back({{"name", ch.name}, {"passed", ch.passed}, {"detail", ch.detail}});
  j["checks"] = std::move(checks);
  if (auto w = WriteFile(r.out_dir + "/report.json", j.dump(1) + "\n"); !w) return w;
  if (auto w = WriteFile(r.out_dir + "/requests.csv", RequestsCsv(r)); !w) return w;
  if (auto w = WriteFile(r.out_dir + "/summary.txt", SummaryText(r)); !w) return w;
  return WriteFile(r.out_dir + "/timeline.svg", TimelineSvg(r));
}

}  // namespace twinstep::sim
