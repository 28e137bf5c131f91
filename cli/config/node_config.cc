// Loading, validating and writing the node config, driven by the option table.
#include "cli/config/node_config.h"

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <type_traits>

#include <toml++/toml.h>

#include "cli/config/node_config_options.h"

namespace twinstep::config {
namespace {

ConfigError MakeError(ConfigErrc code, const std::string& file, std::string key, const toml::node* node,
                      std::string detail) {
  ConfigError e;
  e.code = code;
  e.file = file;
  e.key = std::move(key);
  e.line = node ? static_cast<int>(node->source().begin.line) : 0;
  e.detail = std::move(detail);
  return e;
}

const char* TomlTypeName(toml::node_type t) {
  switch (t) {
    case toml::node_type::table: return "table";
    case toml::node_type::array: return "array";
    case toml::node_type::string: return "string";
    case toml::node_type::integer: return "integer";
    case toml::node_type::floating_point: return "float";
    case toml::node_type::boolean: return "boolean";
    default: return "date/time";
  }
}

// Checks one string against the option's choices and check.
std::string StringProblem(const OptionSpec& o, const std::string& v) {
  if (o.choices) {
    std::string choices = o.choices;
    std::stringstream ss(choices);
    std::string item;
    while (std::getline(ss, item, '|')) {
      if (item == v) return "";
    }
    return "'" + v + "' is not one of " + choices;
  }
  if (o.check) {
    if (const char* why = o.check(v)) return "'" + v + "' " + why;
  }
  return "";
}

std::string IntProblem(const OptionSpec& o, int64_t v) {
  if (v < o.min || v > o.max) {
    return std::to_string(v) + " is out of range " + RangeText(o);
  }
  return "";
}

std::string Problem(const OptionSpec& o, const std::string& v) { return StringProblem(o, v); }
std::string Problem(const OptionSpec& o, int64_t v) { return IntProblem(o, v); }
std::string Problem(const OptionSpec&, bool) { return ""; }

template <typename T>
constexpr const char* kWant = std::is_same_v<T, bool> ? "a boolean" : std::is_same_v<T, int64_t> ? "an integer" : "a string";

// Reads one option's TOML node into its field, with the errors naming it.
class OptionReader {
 public:
  OptionReader(const OptionSpec& o, const std::string& file) : o_(o), file_(file), key_(DottedKey(o)) {}

  template <typename T>
  Expected<void, ConfigError> Read(const toml::node& n, T& dst) const {
    auto* v = n.as<T>();
    if (!v) return Fail(ConfigErrc::kWrongType, n, std::string("expected ") + kWant<T> + ", found " + TomlTypeName(n.type()));
    if (auto why = Problem(o_, v->get()); !why.empty()) return Fail(ConfigErrc::kOutOfRange, n, why);
    dst = v->get();
    return {};
  }

  template <typename T>
  Expected<void, ConfigError> Read(const toml::node& n, std::vector<T>& dst) const {
    auto* a = n.as_array();
    if (!a) {
      return Fail(ConfigErrc::kWrongType, n, std::string("expected a list, found ") + TomlTypeName(n.type()));
    }
    std::vector<T> out(a->size());
    for (size_t i = 0; i < a->size(); ++i) {
      if (auto r = Read((*a)[i], out[i]); !r) return r;
    }
    dst = std::move(out);
    return {};
  }

 private:
  Unexpected<ConfigError> Fail(ConfigErrc code, const toml::node& at, std::string why) const {
    return MakeUnexpected(MakeError(code, file_, key_, &at, std::move(why)));
  }
  const OptionSpec& o_;
  const std::string& file_;
  const std::string key_;
};

Expected<void, ConfigError> ReadOption(const OptionSpec& o, const toml::node& n, const std::string& file,
                                       NodeConfig& c) {
  const OptionReader reader(o, file);
  return std::visit([&](auto ref) { return reader.Read(n, ref(c)); }, o.ref);
}

// Walks `table` (the section `prefix`), reading known options and rejecting
// anything else.
Expected<void, ConfigError> ReadTable(const toml::table& table, const std::string& prefix, const std::string& file,
                                      NodeConfig& c) {
  for (const auto& [k, node] : table) {
    const std::string name(k.str());
    const std::string dotted = prefix.empty() ? name : prefix + "." + name;
    bool is_section = false;
    for (const auto& s : Sections()) is_section |= dotted == s.name;
    if (is_section) {
      auto* sub = node.as_table();
      if (!sub) {
        return MakeUnexpected(MakeError(ConfigErrc::kWrongType, file, dotted, &node,
                                        std::string("expected a table, found ") + TomlTypeName(node.type())));
      }
      auto r = ReadTable(*sub, dotted, file, c);
      if (!r) return r;
      continue;
    }
    const OptionSpec* option = nullptr;
    for (const auto& o : Options()) {
      if (prefix == o.section && name == o.key) option = &o;
    }
    if (!option) {
      const toml::node* where = &node;
      // A table's own position is its header; a key's is the key.
      if (k.source().begin.line) {
        ConfigError e = MakeError(ConfigErrc::kUnknownKey, file, dotted, nullptr, "not a twinstep node option");
        e.line = static_cast<int>(k.source().begin.line);
        return MakeUnexpected(e);
      }
      return MakeUnexpected(MakeError(ConfigErrc::kUnknownKey, file, dotted, where, "not a twinstep node option"));
    }
    auto r = ReadOption(*option, node, file, c);
    if (!r) return r;
  }
  return {};
}

Expected<NodeConfig, ConfigError> FromTable(const toml::table& root, const std::string& file) {
  NodeConfig c;
  auto r = ReadTable(root, "", file, c);
  if (!r) return MakeUnexpected(r.error());
  auto rules = CheckRules(c);
  if (!rules.empty()) {
    const auto& v = rules.front();
    auto at = root.at_path(v.key);
    return MakeUnexpected(MakeError(ConfigErrc::kInvalid, file, v.key, at.node(), v.detail));
  }
  return c;
}

}  // namespace

const char* ConfigErrcMessage(ConfigErrc code) {
  switch (code) {
    case ConfigErrc::kCannotRead: return "cannot read the config file";
    case ConfigErrc::kSyntax: return "TOML syntax error";
    case ConfigErrc::kUnknownKey: return "unknown key";
    case ConfigErrc::kWrongType: return "wrong type";
    case ConfigErrc::kOutOfRange: return "value out of range";
    case ConfigErrc::kInvalid: return "invalid combination of options";
    case ConfigErrc::kCannotWrite: return "cannot write the config file";
  }
  return "unknown config error";
}

std::string ConfigError::Message() const {
  std::string out;
  if (!file.empty()) out += file + ":";
  if (line > 0) out += std::to_string(line) + ":";
  if (!out.empty()) out += " ";
  if (!key.empty()) out += key + ": ";
  out += ConfigErrcMessage(code);
  if (!detail.empty()) out += ": " + detail;
  return out;
}

Expected<NodeConfig, ConfigError> ParseNodeConfig(std::string_view text, const std::string& name) {
  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    ConfigError err;
    err.code = ConfigErrc::kSyntax;
    err.file = name;
    err.line = static_cast<int>(e.source().begin.line);
    err.detail = std::string(e.description());
    return MakeUnexpected(err);
  }
  return FromTable(root, name);
}

Expected<NodeConfig, ConfigError> LoadNodeConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ConfigError err;
    err.code = ConfigErrc::kCannotRead;
    err.file = path;
    err.detail = "no such file or not readable";
    return MakeUnexpected(err);
  }
  std::stringstream buf;
  buf << in.rdbuf();
  return ParseNodeConfig(buf.str(), path);
}

Expected<void, ConfigError> ValidateNodeConfig(const NodeConfig& config) {
  // Round trip through the text form: the same checks as a file gets.
  auto parsed = ParseNodeConfig(RenderNodeConfig(config), "");
  if (!parsed) {
    ConfigError e = parsed.error();
    e.line = 0;  // lines of the rendered text mean nothing to the caller
    return MakeUnexpected(e);
  }
  return {};
}

std::string RenderNodeConfig(const NodeConfig& config, const std::vector<std::string>& header) {
  std::ostringstream out;
  for (const auto& line : header) out << "# " << line << "\n";
  if (!header.empty()) out << "\n";
  for (const auto& section : Sections()) {
    out << "# " << section.doc << "\n[" << section.name << "]\n";
    for (const auto& o : Options()) {
      if (std::string_view(o.section) != section.name) continue;
      out << "# " << o.doc;
      if (auto range = RangeText(o); !range.empty()) out << " (" << range << ")";
      out << "\n" << o.key << " = " << ValueAsToml(o, config) << "\n";
    }
    out << "\n";
  }
  return out.str();
}

Expected<void, ConfigError> WriteNodeConfig(const std::string& path, const NodeConfig& config,
                                            const std::vector<std::string>& header) {
  if (auto ok = ValidateNodeConfig(config); !ok) return ok;
  auto fail = [&](const std::string& why) {
    ConfigError e;
    e.code = ConfigErrc::kCannotWrite;
    e.file = path;
    e.detail = why;
    return MakeUnexpected(e);
  };
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return fail("cannot create " + tmp + " (does the folder exist and is it writable?)");
    out << RenderNodeConfig(config, header);
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      return fail("write to " + tmp + " failed");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return fail("cannot rename " + tmp + " over it");
  }
  return {};
}

std::string RenderConfigDoc() {
  std::ostringstream out;
  NodeConfig defaults;
  out << "# The node config\n\n"
         "<!-- Generated from cli/config/node_config_options.cc by `twinstep tune --config-doc`;\n"
         "     the unit test node_config_test checks that this file matches the code. -->\n\n"
         "Each node of a pair reads one TOML file (`twinstep node --config FILE`, `twinstep sim`).\n"
         "`twinstep tune --write-config FILE` writes one planned for the machine it runs on. Every\n"
         "option has a default, so an empty file is a valid simulation config. Loading rejects\n"
         "unknown keys, wrong types and out-of-range values with the file, the line and the key.\n"
         "The code is in `cli/config/` (library `twinstep_node_config`: `LoadNodeConfig(path)`,\n"
         "`WriteNodeConfig(path, config)`).\n";
  for (const auto& section : Sections()) {
    out << "\n## [" << section.name << "]\n\n" << section.doc << "\n\n"
        << "| key | type | default | allowed | meaning |\n|---|---|---|---|---|\n";
    for (const auto& o : Options()) {
      if (std::string_view(o.section) != section.name) continue;
      std::string range = RangeText(o);
      for (auto pos = range.find('|'); pos != std::string::npos; pos = range.find('|')) {
        range.replace(pos, 1, " / ");  // a bare '|' would split the Markdown table cell
      }
      out << "| `" << o.key << "` | " << TypeName(o) << " | `" << ValueAsToml(o, defaults) << "` | "
          << (range.empty() ? "" : "`" + range + "`") << " | " << o.doc << " |\n";
    }
  }
  out << "\n## Rules between options\n\n";
  for (const char* rule : RuleDocs()) out << "- " << rule << "\n";
  return out.str();
}

}  // namespace twinstep::config
