// A second, deliberately plain implementation of docs/comparator.md (maps and
// deques, no pools or hashing), used only by the golden-vector generator to
// write the expected verdicts. The backends are checked against its output.
#pragma once

#include <deque>
#include <map>
#include <vector>

#include "dataplane/comparator/comparator.h"

namespace twinstep::compare::golden {

class Oracle {
 public:
  explicit Oracle(const ComparatorConfig& c) : c_(c) {}

  std::vector<Verdict> Event(const wire::OutputDigest& d, uint64_t handle, uint64_t t) {
    std::vector<Verdict> out;
    Item ev{d, handle, t};
    auto* f = Find(d.flow);
    if (!f) {
      out.push_back(V(VerdictKind::kOverflow, &ev, nullptr));
      return out;
    }
    if (!f->diverged && !f->rec.empty()) {
      Item r = f->rec.front();
      f->rec.pop_front();
      --records_;
      if (Equal(ev.d, r.d)) {
        out.push_back(V(VerdictKind::kRelease, &ev, &r.d));
      } else if (held_ == c_.max_held_events) {
        out.push_back(V(VerdictKind::kOverflow, &ev, &r.d));
        f->diverged = true;
      } else {
        Hold(*f, ev);
        out.push_back(V(VerdictKind::kMismatch, &ev, &r.d));
        f->diverged = true;
      }
    } else if (held_ == c_.max_held_events) {
      out.push_back(V(VerdictKind::kOverflow, &ev, nullptr));
      f->diverged = true;
    } else {
      Hold(*f, ev);
    }
    Forget(d.flow);
    return out;
  }

  std::vector<Verdict> Record(const wire::OutputDigest& d, uint64_t t) {
    std::vector<Verdict> out;
    auto* f = Find(d.flow);
    if (!f) {
      out.push_back(V(VerdictKind::kOverflow, nullptr, &d));
      return out;
    }
    if (f->diverged) return out;
    if (!f->ev.empty()) {
      Item& ev = f->ev.front();
      if (Equal(ev.d, d)) {
        out.push_back(V(VerdictKind::kRelease, &ev, &d));
        Unhold(*f);
      } else {
        out.push_back(V(VerdictKind::kMismatch, &ev, &d));
        f->diverged = true;
      }
    } else if (records_ == c_.max_pending_records) {
      out.push_back(V(VerdictKind::kOverflow, nullptr, &d));
      f->diverged = true;
    } else {
      f->rec.push_back({d, 0, t});
      ++records_;
    }
    Forget(d.flow);
    return out;
  }

  std::vector<Verdict> Advance(uint64_t now) {
    std::vector<Verdict> out;
    if (now < c_.compare_timeout_ns) return out;
    const uint64_t deadline = now - c_.compare_timeout_ns;
    for (auto& [id, f] : flows_) {
      if (f.diverged) continue;
      if (!f.ev.empty() && f.ev.front().t <= deadline) {
        out.push_back(V(VerdictKind::kMissing, &f.ev.front(), nullptr));
        f.diverged = true;
      } else if (!f.rec.empty() && f.rec.front().t <= deadline) {
        out.push_back(V(VerdictKind::kMissing, nullptr, &f.rec.front().d));
        f.diverged = true;
      }
    }
    // Timed-out records are dropped, in diverged flows too.
    for (auto& [id, f] : flows_) {
      while (!f.rec.empty() && f.rec.front().t <= deadline) {
        f.rec.pop_front();
        --records_;
      }
    }
    return out;
  }

  std::vector<Verdict> ReleaseAll() {
    std::vector<Verdict> out;
    for (const Item& ev : order_) out.push_back(V(VerdictKind::kRelease, &ev, nullptr));
    order_.clear();
    flows_.clear();
    held_ = records_ = 0;
    return out;
  }

 private:
  struct Item {
    wire::OutputDigest d;
    uint64_t handle = 0;
    uint64_t t = 0;
  };
  struct Flow {
    std::deque<Item> ev, rec;
    bool diverged = false;
  };

  static bool Equal(const wire::OutputDigest& a, const wire::OutputDigest& b) {
    return a.out_seq == b.out_seq && a.length == b.length && a.digest == b.digest;
  }
  static Verdict V(VerdictKind k, const Item* ev, const wire::OutputDigest* rec) {
    Verdict v{.kind = k};
    const auto& d = ev ? ev->d : *rec;
    v.flow = d.flow;
    v.out_seq = d.out_seq;
    v.length = d.length;
    if (ev) {
      v.has_event = true;
      v.handle = ev->handle;
      v.primary_digest = ev->d.digest;
    }
    if (rec) v.secondary_digest = rec->digest;
    return v;
  }
  Flow* Find(uint64_t id) {
    auto it = flows_.find(id);
    if (it != flows_.end()) return &it->second;
    if (flows_.size() >= c_.max_flows) return nullptr;
    return &flows_[id];
  }
  void Forget(uint64_t id) {
    auto it = flows_.find(id);
    if (it != flows_.end() && !it->second.diverged && it->second.ev.empty() && it->second.rec.empty()) flows_.erase(it);
  }
  void Hold(Flow& f, const Item& ev) {
    f.ev.push_back(ev);
    order_.push_back(ev);
    ++held_;
  }
  void Unhold(Flow& f) {
    const uint64_t h = f.ev.front().handle;
    f.ev.pop_front();
    for (auto it = order_.begin(); it != order_.end(); ++it) {
      if (it->handle == h) {
        order_.erase(it);
        break;
      }
    }
    --held_;
  }

  ComparatorConfig c_;
  std::map<uint64_t, Flow> flows_;
  std::deque<Item> order_;  // held events in arrival order
  size_t held_ = 0, records_ = 0;
};

}  // namespace twinstep::compare::golden
