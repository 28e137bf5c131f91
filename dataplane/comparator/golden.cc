// Parser and writer of the golden-vector text format.
#include "dataplane/comparator/golden.h"

#include <algorithm>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <tuple>

namespace twinstep::compare::golden {
namespace {

std::vector<std::string_view> Split(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

bool ParseU64(std::string_view s, uint64_t* out, int base = 10) {
  if (base == 16 && s.starts_with("0x")) s.remove_prefix(2);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, base);
  return ec == std::errc() && p == s.data() + s.size();
}

bool ParseHexBytes(std::string_view s, std::vector<uint8_t>* out) {
  if (s.size() % 2) return false;
  out->resize(s.size() / 2);
  for (size_t i = 0; i < out->size(); ++i) {
    auto [p, ec] = std::from_chars(s.data() + 2 * i, s.data() + 2 * i + 2, (*out)[i], 16);
    if (ec != std::errc() || p != s.data() + 2 * i + 2) return false;
  }
  return true;
}

bool ParseKind(std::string_view s, VerdictKind* k) {
  for (auto kind : {VerdictKind::kRelease, VerdictKind::kMismatch, VerdictKind::kMissing, VerdictKind::kOverflow}) {
    if (s == VerdictKindName(kind)) {
      *k = kind;
      return true;
    }
  }
  return false;
}

std::string Hex64(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "%016" PRIx64, v);
  return b;
}

}  // namespace

std::string ParseError::ToString() const { return source + ":" + std::to_string(line) + ": " + message; }

Expected<VectorFile, ParseError> Parse(std::string_view text, std::string_view source) {
  VectorFile v;
  int line_no = 0;
  bool saw_magic = false;
  auto fail = [&](std::string msg) { return MakeUnexpected(ParseError{std::string(source), line_no, std::move(msg)}); };
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t nl = std::min(text.find('\n', pos), text.size());
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (const size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    const auto w = Split(line);
    if (w.empty()) {
      if (nl == text.size()) break;
      continue;
    }
    if (!saw_magic) {
      uint64_t ver = 0;
      if (w.size() != 2 || w[0] != kMagicLine || !ParseU64(w[1], &ver)) {
        return fail("first line must be '" + std::string(kMagicLine) + " <version>'");
      }
      if (ver != kFormatVersion) return fail("unsupported format version " + std::string(w[1]));
      saw_magic = true;
      continue;
    }
    const std::string_view op = w[0];
    uint64_t t = 0;
    if (op == "name" || op == "description") {
      std::string rest;
      for (size_t i = 1; i < w.size(); ++i) rest += (i > 1 ? " " : "") + std::string(w[i]);
      (op == "name" ? v.name : v.description) = rest;
    } else if (op == "config") {
      for (size_t i = 1; i < w.size(); ++i) {
        const size_t eq = w[i].find('=');
        uint64_t val = 0;
        if (eq == std::string_view::npos || !ParseU64(w[i].substr(eq + 1), &val)) return fail("bad config item '" + std::string(w[i]) + "'");
        const auto key = w[i].substr(0, eq);
        if (key == "timeout_ns") v.config.compare_timeout_ns = val;
        else if (key == "max_held") v.config.max_held_events = static_cast<uint32_t>(val);
        else if (key == "max_records") v.config.max_pending_records = static_cast<uint32_t>(val);
        else if (key == "max_flows") v.config.max_flows = static_cast<uint32_t>(val);
        else if (key == "digester_flows") v.config.digester_flows = static_cast<uint32_t>(val);
        else return fail("unknown config key '" + std::string(key) + "'");
      }
    } else if (op == "expect") {
      if (v.steps.empty()) return fail("'expect' before any step");
      Verdict e;
      uint64_t len = 0;
      if (w.size() != 8 || !ParseKind(w[1], &e.kind)) return fail("expect needs: KIND HANDLE|- FLOW SEQ LEN PDIGEST SDIGEST");
      e.has_event = w[2] != "-";
      if ((e.has_event && !ParseU64(w[2], &e.handle)) || !ParseU64(w[3], &e.flow, 16) || !ParseU64(w[4], &e.out_seq) ||
          !ParseU64(w[5], &len) || !ParseU64(w[6], &e.primary_digest, 16) || !ParseU64(w[7], &e.secondary_digest, 16)) {
        return fail("bad number in expect line");
      }
      e.length = static_cast<uint32_t>(len);
      v.steps.back().expect.push_back(e);
    } else {
      Step s;
      s.line = line_no;
      if (w.size() < 2 || !ParseU64(w[1], &t)) return fail("step needs a time in ns");
      s.time_ns = t;
      if (!v.steps.empty() && t < v.steps.back().time_ns) return fail("time goes backwards");
      if (op == "out") {
        s.kind = StepKind::kOutput;
        if (w.size() != 4 || !ParseU64(w[2], &s.handle) || !ParseHexBytes(w[3], &s.frame)) return fail("out needs: T HANDLE HEXFRAME");
      } else if (op == "sec") {
        s.kind = StepKind::kSecondary;
        if (w.size() != 3 || !ParseHexBytes(w[2], &s.frame)) return fail("sec needs: T HEXFRAME");
      } else if (op == "rec") {
        s.kind = StepKind::kRecord;
        uint64_t len = 0;
        if (w.size() != 6 || !ParseU64(w[2], &s.record.flow, 16) || !ParseU64(w[3], &s.record.out_seq) ||
            !ParseU64(w[4], &len) || !ParseU64(w[5], &s.record.digest, 16)) {
          return fail("rec needs: T FLOW SEQ LEN DIGEST");
        }
        s.record.length = static_cast<uint32_t>(len);
      } else if (op == "adv") {
        s.kind = StepKind::kAdvance;
        if (w.size() != 2) return fail("adv needs: T");
      } else if (op == "rall") {
        s.kind = StepKind::kReleaseAll;
        if (w.size() != 2) return fail("rall needs: T");
      } else {
        return fail("unknown line '" + std::string(op) + "'");
      }
      v.steps.push_back(std::move(s));
    }
    if (nl == text.size()) break;
  }
  if (!saw_magic) return fail("empty file");
  if (v.name.empty()) return fail("missing 'name' line");
  return v;
}

Expected<VectorFile, ParseError> Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return MakeUnexpected(ParseError{path, 0, "cannot open file"});
  std::stringstream ss;
  ss << in.rdbuf();
  return Parse(ss.str(), path);
}

std::string Format(const VectorFile& v) {
  std::ostringstream o;
  o << kMagicLine << " " << kFormatVersion << "\n";
  o << "name " << v.name << "\n";
  if (!v.description.empty()) o << "description " << v.description << "\n";
  o << "config timeout_ns=" << v.config.compare_timeout_ns << " max_held=" << v.config.max_held_events
    << " max_records=" << v.config.max_pending_records << " max_flows=" << v.config.max_flows
    << " digester_flows=" << v.config.digester_flows << "\n";
  auto hex = [](const std::vector<uint8_t>& b) {
    std::string s;
    s.reserve(b.size() * 2);
    static const char* d = "0123456789abcdef";
    for (uint8_t x : b) {
      s += d[x >> 4];
      s += d[x & 15];
    }
    return s;
  };
  for (const Step& s : v.steps) {
    switch (s.kind) {
      case StepKind::kOutput: o << "out " << s.time_ns << " " << s.handle << " " << hex(s.frame) << "\n"; break;
      case StepKind::kSecondary: o << "sec " << s.time_ns << " " << hex(s.frame) << "\n"; break;
      case StepKind::kRecord:
        o << "rec " << s.time_ns << " " << Hex64(s.record.flow) << " " << s.record.out_seq << " " << s.record.length
          << " " << Hex64(s.record.digest) << "\n";
        break;
      case StepKind::kAdvance: o << "adv " << s.time_ns << "\n"; break;
      case StepKind::kReleaseAll: o << "rall " << s.time_ns << "\n"; break;
    }
    for (const Verdict& e : s.expect) {
      o << "expect " << VerdictKindName(e.kind) << " " << (e.has_event ? std::to_string(e.handle) : "-") << " "
        << Hex64(e.flow) << " " << e.out_seq << " " << e.length << " " << Hex64(e.primary_digest) << " "
        << Hex64(e.secondary_digest) << "\n";
    }
  }
  return o.str();
}

void SortVerdicts(std::vector<Verdict>& v) {
  std::sort(v.begin(), v.end(), [](const Verdict& a, const Verdict& b) {
    return std::tie(a.flow, a.out_seq, a.kind, a.has_event, a.handle) <
           std::tie(b.flow, b.out_seq, b.kind, b.has_event, b.handle);
  });
}

bool SameVerdict(const Verdict& a, const Verdict& b) {
  return a.kind == b.kind && a.has_event == b.has_event && (!a.has_event || a.handle == b.handle) && a.flow == b.flow &&
         a.out_seq == b.out_seq && a.length == b.length && a.primary_digest == b.primary_digest &&
         a.secondary_digest == b.secondary_digest;
}

std::string ToString(const Verdict& v) {
  return std::string(VerdictKindName(v.kind)) + " handle=" + (v.has_event ? std::to_string(v.handle) : "-") +
         " flow=" + Hex64(v.flow) + " seq=" + std::to_string(v.out_seq) + " len=" + std::to_string(v.length) +
         " primary=" + Hex64(v.primary_digest) + " secondary=" + Hex64(v.secondary_digest);
}

}  // namespace twinstep::compare::golden
