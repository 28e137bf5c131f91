// Reading scenario files (see scenario.h and docs/simulation.md).
#include "simulation/scenario.h"

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <variant>

#include <toml++/toml.h>

#include "cli/config/node_config_options.h"

namespace twinstep::sim {
namespace {

std::vector<std::string> Words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> w;
  for (std::string s; in >> s;) w.push_back(s);
  return w;
}

bool ParseDouble(const std::string& s, double* v) {
  try {
    size_t used = 0;
    *v = std::stod(s, &used);
    return used == s.size();
  } catch (const std::exception&) {
    return false;
  }
}

bool ParseU64(const std::string& s, uint64_t* v) {
  if (s.empty() || s[0] == '-') return false;
  try {
    size_t used = 0;
    *v = std::stoull(s, &used, 0);
    return used == s.size();
  } catch (const std::exception&) {
    return false;
  }
}

Unexpected<SimError> Bad(std::string what) { return SimFail(SimErrc::kScenario, std::move(what)); }

const std::set<std::string> kRoles = {"joining", "primary", "secondary", "solo", "fenced", "stopped"};

// One table's keys: read by type, each marked as known; Finish() rejects the rest.
class TableReader {
 public:
  TableReader(const toml::table* t, std::string prefix, const std::string& file)
      : t_(t), prefix_(std::move(prefix)), file_(file) {}

  template <typename T>
  SimResult<void> Get(const char* key, T* dst, T min = T{}, T max = T{}) {
    known_.insert(key);
    if (!t_) return {};
    const toml::node* n = t_->get(key);
    if (!n) return {};
    if constexpr (std::is_same_v<T, double>) {
      if (auto v = n->value<double>()) {  // integers convert too
        if (*v < min || *v > max) return Fail(*n, key, "out of range " + Range(min, max));
        *dst = *v;
        return {};
      }
      return Fail(*n, key, "expected a number");
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (auto v = n->as_string()) {
        *dst = v->get();
        return {};
      }
      return Fail(*n, key, "expected a string");
    } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
      auto* a = n->as_array();
      if (!a) return Fail(*n, key, "expected a list of integers");
      dst->clear();
      for (const auto& e : *a) {
        if (!e.is_integer()) return Fail(e, key, "expected a list of integers");
        dst->push_back(e.as_integer()->get());
      }
      return {};
    } else {
      auto* v = n->as_integer();
      if (!v) return Fail(*n, key, "expected an integer");
      if (v->get() < static_cast<int64_t>(min) || v->get() > static_cast<int64_t>(max))
        return Fail(*n, key, "out of range " + Range(min, max));
      *dst = static_cast<T>(v->get());
      return {};
    }
  }

  SimResult<void> Finish() const {
    if (!t_) return {};
    for (const auto& [k, v] : *t_) {
      if (!known_.count(std::string(k.str()))) return Fail(v, std::string(k.str()), "unknown key");
    }
    return {};
  }

  Unexpected<SimError> Fail(const toml::node& n, const std::string& key, const std::string& why) const {
    return Bad(file_ + ":" + std::to_string(n.source().begin.line) + ": " + prefix_ + key + ": " + why);
  }

 private:
  template <typename T>
  static std::string Range(T min, T max) {
    std::ostringstream s;
    s << "[" << min << ", " << max << "]";
    return s.str();
  }
  const toml::table* t_;
  std::string prefix_;
  const std::string& file_;
  std::set<std::string> known_;
};

#define TRY(expr)                                                 \
  do {                                                            \
    if (auto r_ = (expr); !r_) return MakeUnexpected(r_.error()); \
  } while (0)

// The [node] keys and the node-config options they set.
constexpr std::pair<const char*, const char*> kNodeKeys[] = {
    {"memory_mib", "guest.memory_mib"},
    {"comparator", "replication.comparator"},
    {"checkpoint_period_ms", "replication.checkpoint_period_ms"},
    {"dirty_page_bound", "replication.dirty_page_bound"},
    {"compare_timeout_us", "replication.compare_timeout_us"},
    {"heartbeat_interval_ms", "replication.heartbeat_interval_ms"},
    {"heartbeat_miss_k", "replication.heartbeat_miss_k"},
    {"join_probe_ms", "replication.join_probe_ms"},
    {"checkpoint_timeout_ms", "replication.checkpoint_timeout_ms"},
    {"idle_spin_polls", "dataplane.idle_spin_polls"},
    {"idle_min_sleep_us", "dataplane.idle_min_sleep_us"},
    {"idle_max_sleep_us", "dataplane.idle_max_sleep_us"},
    {"lease_ttl_s", "witness.lease_ttl_s"},
};

const config::OptionSpec& NodeOption(const char* dotted) {
  for (const auto& o : config::Options()) {
    if (config::DottedKey(o) == dotted) return o;
  }
  throw std::logic_error(std::string("no node-config option ") + dotted);  // a typo in kNodeKeys
}

SimResult<void> ReadNode(const toml::table* t, const std::string& file, NodeSettings* n) {
  TableReader r(t, "node.", file);
  for (const auto& [key, dotted] : kNodeKeys) {
    const config::OptionSpec& o = NodeOption(dotted);
    if (const auto* ref = std::get_if<config::IntRef>(&o.ref)) {
      TRY(r.Get<int64_t>(key, &(*ref)(n->config), o.min, o.max));
      continue;
    }
    std::string& value = std::get<config::StrRef>(o.ref)(n->config);
    TRY(r.Get<std::string>(key, &value));
    const std::string choices = o.choices ? o.choices : "";
    if (const toml::node* v = t ? t->get(key) : nullptr; v && !choices.empty() &&
        ("|" + choices + "|").find("|" + value + "|") == std::string::npos) {
      return r.Fail(*v, key, "'" + value + "' is not one of " + choices);
    }
  }
  TRY(r.Get<std::vector<int64_t>>("lcores_a", &n->lcores_a));
  TRY(r.Get<std::vector<int64_t>>("lcores_b", &n->lcores_b));
  return r.Finish();
}

SimResult<void> ReadWorkload(const toml::table* t, const std::string& file, WorkloadConfig* w) {
  TableReader r(t, "workload.", file);
  TRY(r.Get<double>("rate", &w->rate, 1, 1e6));
  TRY(r.Get<uint32_t>("keys", &w->keys, 1, 3000));  // the guest's store holds 3686 keys
  TRY(r.Get<double>("set_ratio", &w->set_ratio, 0, 1));
  TRY(r.Get<uint32_t>("value_bytes", &w->value_bytes, 24, 1000));
  TRY(r.Get<uint32_t>("retry_ms", &w->retry_ms, 1, 60000));
  TRY(r.Get<uint32_t>("give_up_ms", &w->give_up_ms, 1, 600000));
  TRY(r.Get<uint32_t>("max_outstanding", &w->max_outstanding, 1, 60000));
  TRY(r.Get<uint32_t>("seed", &w->seed, 0, UINT32_MAX));
  return r.Finish();
}

SimResult<void> ReadExpect(const toml::table* t, const std::string& file, Expectations* e) {
  TableReader r(t, "expect.", file);
  constexpr uint64_t kMax = UINT64_MAX >> 1;
  TRY(r.Get<uint64_t>("lost_acked_writes", &e->max_lost_acked_writes, 0, kMax));
  TRY(r.Get<uint64_t>("wrong_replies", &e->max_wrong_replies, 0, kMax));
  TRY(r.Get<uint64_t>("unanswered", &e->max_unanswered, 0, kMax));
  TRY(r.Get<uint64_t>("duplicate_replies", &e->max_duplicate_replies, 0, kMax));
  TRY(r.Get<uint64_t>("min_acked_writes", &e->min_acked_writes, 0, kMax));
  TRY(r.Get<uint64_t>("min_failovers", &e->min_failovers, 0, kMax));
  TRY(r.Get<uint64_t>("min_divergences", &e->min_divergences, 0, kMax));
  TRY(r.Get<uint64_t>("min_checkpoints", &e->min_checkpoints, 0, kMax));
  TRY(r.Get<uint64_t>("min_joins", &e->min_joins, 0, kMax));
  TRY(r.Get<int64_t>("fenced", &e->fenced, -1, 2));
  return r.Finish();
}

// Why a step cannot run over a memif sync link, or nullptr.
const char* MemifCannot(Action a) {
  if (a == Action::kCutSync || a == Action::kRestoreSync) return "a memif link has no wire to cut";
  if (a == Action::kRestart) return "DPDK's memif client does not reconnect to a restarted server";
  return nullptr;
}

}  // namespace

const char* ActionName(Action a) {
  switch (a) {
    case Action::kStart: return "start";
    case Action::kRestart: return "restart";
    case Action::kStop: return "stop";
    case Action::kKill9: return "kill9";
    case Action::kSigstop: return "sigstop";
    case Action::kSigcont: return "sigcont";
    case Action::kSlow: return "slow";
    case Action::kWait: return "wait";
    case Action::kExpect: return "expect";
    case Action::kCutSync: return "cut-sync";
    case Action::kRestoreSync: return "restore-sync";
    case Action::kSyncLoss: return "sync-loss";
    case Action::kCorrupt: return "corrupt";
    case Action::kCheckpoint: return "checkpoint";
    case Action::kLoadStart: return "load";
    case Action::kLoadStop: return "load";
    case Action::kSleep: return "sleep";
    case Action::kClient: return "client";
    case Action::kStall: return "stall";
  }
  return "?";
}

SimResult<Step> ParseStep(const std::string& text) {
  Step s;
  s.text = text;
  const auto w = Words(text);
  if (w.empty()) return Bad("empty step");
  const std::string& verb = w[0];
  // Reads word i as the step's node.
  auto node = [&](size_t i) -> SimResult<void> {
    if (w.size() <= i) return Bad("'" + verb + "' needs a node: node-a or node-b");
    for (int n = 0; n < 2; ++n) {
      if (w[i] == kNodeNames[n]) {
        s.node = n;
        return {};
      }
    }
    return Bad("'" + w[i] + "' is not a node (node-a, node-b)");
  };
  auto arity = [&](size_t n, const char* usage) -> SimResult<void> {
    if (w.size() != n) return Bad(std::string("usage: ") + usage);
    return {};
  };
  const std::map<std::string, Action> kSimple = {
      {"start", Action::kStart},     {"restart", Action::kRestart}, {"stop", Action::kStop},
      {"kill9", Action::kKill9},     {"sigstop", Action::kSigstop}, {"sigcont", Action::kSigcont},
      {"checkpoint", Action::kCheckpoint}};
  if (auto it = kSimple.find(verb); it != kSimple.end()) {
    s.action = it->second;
    TRY(arity(2, (verb + " NODE").c_str()));
    TRY(node(1));
  } else if (verb == "wait" || verb == "expect") {
    s.action = verb == "wait" ? Action::kWait : Action::kExpect;
    if (w.size() < 3) return Bad("usage: " + verb + " NODE ready|running|exited|role=R[|R...]" +
                                 (verb == "wait" ? " [timeout=SECONDS]" : ""));
    TRY(node(1));
    const std::string& c = w[2];
    if (c == "ready") {
      s.condition = Condition::kReady;
    } else if (c == "running") {
      s.condition = Condition::kRunning;
    } else if (c == "exited") {
      s.condition = Condition::kExited;
    } else if (c.rfind("role=", 0) == 0) {
      s.condition = Condition::kRole;
      std::istringstream roles(c.substr(5));
      for (std::string r; std::getline(roles, r, '|');) {
        if (!kRoles.count(r)) return Bad("'" + r + "' is not a role (joining, primary, secondary, solo, fenced, stopped)");
        s.roles.push_back(r);
      }
      if (s.roles.empty()) return Bad("role= needs at least one role");
    } else {
      return Bad("'" + c + "': expected ready, running, exited or role=R");
    }
    for (size_t i = 3; i < w.size(); ++i) {
      if (verb == "wait" && w[i].rfind("timeout=", 0) == 0 && ParseDouble(w[i].substr(8), &s.timeout_s) &&
          s.timeout_s > 0)
        continue;
      return Bad("unexpected '" + w[i] + "'" + (verb == "wait" ? " (timeout=SECONDS?)" : ""));
    }
  } else if (verb == "cut-sync" || verb == "restore-sync") {
    s.action = verb == "cut-sync" ? Action::kCutSync : Action::kRestoreSync;
    TRY(arity(1, verb.c_str()));
  } else if (verb == "sync-loss") {
    s.action = Action::kSyncLoss;
    TRY(arity(2, "sync-loss PERCENT% (0% removes the loss)"));
    std::string p = w[1];
    if (!p.empty() && p.back() == '%') p.pop_back();
    if (!ParseDouble(p, &s.percent) || s.percent < 0 || s.percent > 100) return Bad("'" + w[1] + "' is not a percentage");
  } else if (verb == "corrupt") {
    s.action = Action::kCorrupt;
    TRY(arity(4, "corrupt NODE GPA|SYMBOL[+OFFSET] LEN"));
    TRY(node(1));
    std::string where = w[2];
    if (!where.empty() && isdigit(static_cast<unsigned char>(where[0]))) {
      if (!ParseU64(where, &s.gpa)) return Bad("'" + where + "' is not an address");
    } else {
      const size_t plus = where.find('+');
      s.gpa_symbol = where.substr(0, plus);
      if (plus != std::string::npos && !ParseU64(where.substr(plus + 1), &s.gpa))
        return Bad("'" + where + "': the offset after + is not a number");
    }
    if (!ParseU64(w[3], &s.len) || s.len == 0 || s.len > (64u << 20)) return Bad("'" + w[3] + "': LEN is 1 to 64 MiB");
  } else if (verb == "slow") {
    s.action = Action::kSlow;
    TRY(node(1));
    uint64_t run = 0, stop = 0;
    if (w.size() == 3 && w[2] == "off") {
    } else if (w.size() == 4 && ParseU64(w[2], &run) && ParseU64(w[3], &stop) && run > 0 && stop > 0 &&
               run <= 60000 && stop <= 60000) {
      s.run_ms = static_cast<uint32_t>(run), s.stop_ms = static_cast<uint32_t>(stop);
    } else {
      return Bad("usage: slow NODE RUN_MS STOP_MS (1..60000 each) | slow NODE off");
    }
  } else if (verb == "stall") {
    s.action = Action::kStall;
    TRY(arity(3, "stall NODE MS (1..600000: the node's control thread stops; its NIC goes on beating)"));
    TRY(node(1));
    uint64_t ms = 0;
    if (!ParseU64(w[2], &ms) || ms == 0 || ms > 600000) return Bad("'" + w[2] + "': MS is 1 to 600000");
    s.stall_ms = static_cast<uint32_t>(ms);
  } else if (verb == "load") {
    TRY(arity(2, "load start|stop"));
    if (w[1] == "start") {
      s.action = Action::kLoadStart;
    } else if (w[1] == "stop") {
      s.action = Action::kLoadStop;
    } else {
      return Bad("usage: load start|stop");
    }
  } else if (verb == "client") {
    s.action = Action::kClient;
    if (w.size() < 2) return Bad("usage: client SHELL-COMMAND (run in the LAN namespace; $GUEST_IP, $OUT are set)");
    s.command = text.substr(text.find_first_not_of(' ', text.find("client") + 6));
  } else if (verb == "sleep") {
    s.action = Action::kSleep;
    TRY(arity(2, "sleep SECONDS"));
    if (!ParseDouble(w[1], &s.seconds) || s.seconds < 0) return Bad("'" + w[1] + "' is not a number of seconds");
  } else {
    return Bad("unknown action '" + verb +
               "' (start, restart, stop, kill9, sigstop, sigcont, slow, wait, expect, cut-sync, restore-sync, "
               "sync-loss, corrupt, checkpoint, load, sleep, client, stall)");
  }
  return s;
}

SimResult<Scenario> ParseScenario(std::string_view text, const std::string& name) {
  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    return Bad(name + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description()));
  }
  Scenario sc;
  sc.file = name;
  TableReader top(&root, "", name);
  TRY(top.Get<std::string>("name", &sc.name));
  TRY(top.Get<std::string>("description", &sc.description));
  TRY(top.Get<double>("duration_s", &sc.duration_s, 0, 86400));
  TRY(top.Get<double>("timeout_s", &sc.timeout_s, 0, 86400));
  TRY(top.Get<std::string>("mode", &sc.mode));
  TRY(top.Get<std::string>("guest_ip", &sc.guest_ip));
  TRY(top.Get<std::string>("guest_mac", &sc.guest_mac));
  TRY(top.Get<std::string>("client_cidr", &sc.client_cidr));
  TRY(top.Get<std::string>("test_guest", &sc.test_guest));
  TRY(top.Get<std::string>("guest", &sc.guest));
  TRY(top.Get<std::string>("sync_link", &sc.sync_link));
  if (sc.sync_link != "veth" && sc.sync_link != "memif")
    return top.Fail(*root.get("sync_link"), "sync_link", "'" + sc.sync_link + "' is not one of veth / memif");
  if (sc.guest != "auto" && sc.guest != "test" && sc.guest != "soft" && sc.guest != "linux")
    return top.Fail(*root.get("guest"), "guest", "'" + sc.guest + "' is not one of auto / test / soft / linux");
  if (sc.mode != "pair" && sc.mode != "solo-vm" && sc.mode != "solo-qemu")
    return top.Fail(*root.get("mode"), "mode", "'" + sc.mode + "' is not one of pair / solo-vm / solo-qemu");
  for (const char* table : {"workload", "node", "expect"}) {
    if (const toml::node* n = root.get(table); n && !n->is_table())
      return top.Fail(*n, table, "expected a table [" + std::string(table) + "]");
  }
  auto* step_node = root.get("step");
  if (step_node && !step_node->is_array_of_tables()) return top.Fail(*step_node, "step", "expected [[step]] tables");
  TRY(ReadWorkload(root["workload"].as_table(), name, &sc.workload));
  TRY(ReadNode(root["node"].as_table(), name, &sc.node));
  TRY(ReadExpect(root["expect"].as_table(), name, &sc.expect));
  sc.workload.server = sc.guest_ip;
  if (step_node) {
    int i = 0;
    double last_at = 0;
    for (auto& e : *step_node->as_array()) {
      const std::string prefix = "step[" + std::to_string(i++) + "].";
      TableReader r(e.as_table(), prefix, name);
      std::string what;
      double at = -1;
      TRY(r.Get<std::string>("do", &what));
      TRY(r.Get<double>("at", &at, 0, 86400));
      TRY(r.Finish());
      const int line = static_cast<int>(e.source().begin.line);
      if (what.empty()) return Bad(name + ":" + std::to_string(line) + ": " + prefix + "do: missing");
      auto step = ParseStep(what);
      if (!step) {
        const toml::node* d = e.as_table()->get("do");
        return Bad(name + ":" + std::to_string(d->source().begin.line) + ": " + prefix + "do: " + step.error().detail);
      }
      if (at >= 0 && at < last_at) {
        return Bad(name + ":" + std::to_string(e.as_table()->get("at")->source().begin.line) + ": " + prefix +
                   "at: " + std::to_string(at) + " s is before an earlier step's time");
      }
      if (at >= 0) last_at = at;
      if (const char* why = sc.sync_link == "memif" ? MemifCannot(step->action) : nullptr) {
        return Bad(name + ":" + std::to_string(line) + ": " + prefix + "do: " + what + " needs sync_link = \"veth\" (" +
                   why + ")");
      }
      step->at_s = at;
      step->line = line;
      sc.steps.push_back(*step);
    }
  }
  // Top-level keys: the scalars above and the tables.
  for (const auto& [k, v] : root) {
    static const std::set<std::string> kKnown = {"name",     "description", "duration_s", "timeout_s", "mode",
                                                 "guest_ip", "guest_mac",   "client_cidr", "test_guest", "guest",  "sync_link", "workload",
                                                 "node",     "expect",      "step"};
    if (!kKnown.count(std::string(k.str()))) return top.Fail(v, std::string(k.str()), "unknown key");
  }
  if (sc.timeout_s == 0) sc.timeout_s = sc.duration_s + 180;
  if (sc.name.empty()) {
    sc.name = name.substr(name.find_last_of('/') + 1);
    if (sc.name.size() > 5 && sc.name.substr(sc.name.size() - 5) == ".toml") sc.name.resize(sc.name.size() - 5);
  }
  return sc;
}

SimResult<Scenario> LoadScenario(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Bad(path + ": cannot read the scenario file");
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseScenario(ss.str(), path);
}

}  // namespace twinstep::sim
