// timeline.svg of a sim run, written by hand (no plotting library): request
// latency dots on a log scale, replies per 10 ms, and the node and fault
// events as vertical markers on one time axis.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "simulation/report.h"

namespace twinstep::sim {
namespace {

constexpr double kWidth = 1200, kLeft = 70, kRight = 20;
constexpr double kLatTop = 40, kLatBottom = 300;     // latency panel
constexpr double kRateTop = 330, kRateBottom = 450;  // replies per 10 ms panel
constexpr double kLabelTop = 470, kHeight = 600;     // event labels
constexpr double kMinLogUs = 1, kMaxLogUs = 7;       // 10 us .. 10 s
constexpr size_t kMaxDots = 20000;

std::string Fmt(const char* f, double a) {
  char b[64];
  std::snprintf(b, sizeof b, f, a);
  return b;
}

std::string Escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else if (c == '"') o += "&quot;";
    else o += c;
  }
  return o;
}

const char* RoleColor(const std::string& role) {
  static const std::map<std::string, const char*> k = {{"primary", "#1f77b4"}, {"secondary", "#17becf"},
                                                       {"solo", "#ff7f0e"},    {"joining", "#bcbd22"},
                                                       {"fenced", "#7f7f7f"},  {"stopped", "#7f7f7f"}};
  auto it = k.find(role);
  return it == k.end() ? "#7f7f7f" : it->second;
}

}  // namespace

std::string TimelineSvg(const RunReport& r) {
  const double span = std::max(1.0, r.t_end - r.t0);
  auto x = [&](double t_abs) { return kLeft + (t_abs - r.t0) / span * (kWidth - kLeft - kRight); };
  auto y_lat = [&](double us) {
    const double l = std::clamp(std::log10(std::max(us, 1.0)), kMinLogUs, kMaxLogUs);
    return kLatBottom - (l - kMinLogUs) / (kMaxLogUs - kMinLogUs) * (kLatBottom - kLatTop);
  };
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\"" << kHeight
    << "\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s << "<text x=\"" << kLeft << "\" y=\"20\" font-size=\"14\">twinstep sim: " << Escape(r.scenario->name) << " ("
    << (r.Passed() ? "passed" : "FAILED") << ")</text>\n";
  // Axes and grid.
  s << "<g stroke=\"#ddd\">\n";
  for (int l = 1; l <= 7; ++l) {
    s << "<line x1=\"" << kLeft << "\" x2=\"" << kWidth - kRight << "\" y1=\"" << y_lat(std::pow(10, l)) << "\" y2=\""
      << y_lat(std::pow(10, l)) << "\"/>\n";
  }
  s << "</g>\n";
  static const char* kLatLabels[] = {"", "10 us", "100 us", "1 ms", "10 ms", "100 ms", "1 s", "10 s"};
  for (int l = 1; l <= 7; ++l) {
    s << "<text x=\"" << kLeft - 5 << "\" y=\"" << y_lat(std::pow(10, l)) + 4 << "\" text-anchor=\"end\">"
      << kLatLabels[l] << "</text>\n";
  }
  s << "<text x=\"12\" y=\"" << (kLatTop + kLatBottom) / 2 << "\" transform=\"rotate(-90 12 "
    << (kLatTop + kLatBottom) / 2 << ")\" text-anchor=\"middle\">latency (log)</text>\n";
  double step = 1;
  for (double c : {1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0}) {
    step = c;
    if (span / c <= 20) break;
  }
  for (double t = 0; t <= span; t += step) {
    const double px = x(r.t0 + t);
    s << "<line x1=\"" << px << "\" x2=\"" << px << "\" y1=\"" << kRateBottom << "\" y2=\"" << kRateBottom + 4
      << "\" stroke=\"black\"/><text x=\"" << px << "\" y=\"" << kRateBottom + 15 << "\" text-anchor=\"middle\">"
      << Fmt("%g s", t) << "</text>\n";
  }
  s << "<rect x=\"" << kLeft << "\" y=\"" << kLatTop << "\" width=\"" << kWidth - kLeft - kRight << "\" height=\""
    << kLatBottom - kLatTop << "\" fill=\"none\" stroke=\"black\"/>\n";
  s << "<rect x=\"" << kLeft << "\" y=\"" << kRateTop << "\" width=\"" << kWidth - kLeft - kRight << "\" height=\""
    << kRateBottom - kRateTop << "\" fill=\"none\" stroke=\"black\"/>\n";

  // Latency dots: every failed request, and a stride through the good ones.
  std::vector<int64_t> done;
  if (r.records) {
    size_t good = 0;
    for (const auto& q : *r.records) good += q.op != Op::kVerify && q.outcome == Outcome::kOk;
    const size_t stride = std::max<size_t>(1, good / kMaxDots);
    size_t i = 0;
    s << "<g>\n";
    for (const auto& q : *r.records) {
      if (q.op == Op::kVerify) continue;
      const double px = x(q.send_ns / 1e9);
      if (q.outcome == Outcome::kOk) {
        done.push_back(q.done_ns);
        if (i++ % stride) continue;
        s << "<circle cx=\"" << Fmt("%.1f", px) << "\" cy=\"" << Fmt("%.1f", y_lat((q.done_ns - q.send_ns) / 1e3))
          << "\" r=\"1.2\" fill=\"" << (q.op == Op::kSet ? "#1f77b4" : "#2ca02c") << "\"/>\n";
      } else if (q.outcome == Outcome::kUnanswered) {
        s << "<path d=\"M" << Fmt("%.1f", px - 3) << " " << kLatTop - 3 << "l6 6m0 -6l-6 6\" stroke=\"red\"/>\n";
      } else if (q.outcome != Outcome::kPending) {
        s << "<circle cx=\"" << Fmt("%.1f", px) << "\" cy=\"" << Fmt("%.1f", y_lat((q.done_ns - q.send_ns) / 1e3))
          << "\" r=\"3\" fill=\"red\"/>\n";
      }
    }
    s << "</g>\n";
  }
  // Replies per 10 ms.
  const size_t buckets = static_cast<size_t>(span * 100) + 1;
  std::vector<uint32_t> per(buckets, 0);
  for (int64_t d : done) {
    const double t = d / 1e9 - r.t0;
    if (t >= 0 && t < span) ++per[static_cast<size_t>(t * 100)];
  }
  const uint32_t peak = std::max<uint32_t>(1, *std::max_element(per.begin(), per.end()));
  s << "<polyline fill=\"none\" stroke=\"#2ca02c\" stroke-width=\"0.8\" points=\"";
  for (size_t i = 0; i < buckets; ++i) {
    s << Fmt("%.1f", x(r.t0 + i / 100.0)) << ","
      << Fmt("%.1f", kRateBottom - static_cast<double>(per[i]) / peak * (kRateBottom - kRateTop)) << " ";
  }
  s << "\"/>\n<text x=\"" << kLeft + 4 << "\" y=\"" << kRateTop + 12 << "\">replies per 10 ms (peak " << peak
    << ")</text>\n";

  // Events: checkpoints as ticks, the rest as labelled vertical lines.
  double last_label_x = -100;
  int lane = 0;
  for (const auto& e : r.events) {
    const double px = x(e.t);
    if (e.event == "checkpoint") {
      s << "<line x1=\"" << px << "\" x2=\"" << px << "\" y1=\"" << kRateBottom - 6 << "\" y2=\"" << kRateBottom
        << "\" stroke=\"#999\"/>\n";
      continue;
    }
    const bool sim = e.fields.value("source", "") == "sim";
    if (e.event == "spawn" || e.event == "start" || e.event == "garp" || e.event == "join_begin") continue;
    std::string color = "#9467bd", label = e.node + " " + e.event, dash = sim ? " stroke-dasharray=\"4 3\"" : "";
    if (e.event == "role") {
      const std::string role = e.fields.value("role", "?");
      color = RoleColor(role);
      label = e.node + " " + role;
    } else if (e.event == "failover") {
      color = "#d62728";
    } else if (e.event == "divergence") {
      color = "#ff7f0e";
    } else if (e.event == "join_end") {
      color = "#bcbd22";
      label = e.node + " joined";
    }
    s << "<line x1=\"" << Fmt("%.1f", px) << "\" x2=\"" << Fmt("%.1f", px) << "\" y1=\"" << kLatTop << "\" y2=\""
      << kRateBottom << "\" stroke=\"" << color << "\" stroke-width=\"1.2\"" << dash << " opacity=\"0.8\"/>\n";
    lane = px - last_label_x < 12 ? (lane + 1) % 3 : 0;
    last_label_x = px;
    const double ly = kLabelTop + lane * 40;
    s << "<text x=\"" << Fmt("%.1f", px) << "\" y=\"" << ly << "\" font-size=\"9\" fill=\"" << color
      << "\" transform=\"rotate(60 " << Fmt("%.1f", px) << " " << ly << ")\">" << Escape(label) << "</text>\n";
  }
  s << "<text x=\"" << kWidth - kRight << "\" y=\"" << kLatTop - 8
    << "\" text-anchor=\"end\" font-size=\"10\">dots: set (blue), get (green), wrong (red); x: unanswered; "
       "dashed: faults injected by the sim</text>\n";
  s << "</svg>\n";
  return s.str();
}

}  // namespace twinstep::sim
