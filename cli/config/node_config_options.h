// The option table of the node config: the one place that names each option,
// its type, its range and its documentation. Loading, writing, validation and
// docs/config.md are all driven by it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "cli/config/node_config.h"

namespace twinstep::config {

using StrRef = std::string& (*)(NodeConfig&);
using IntRef = int64_t& (*)(NodeConfig&);
using BoolRef = bool& (*)(NodeConfig&);
using IntListRef = std::vector<int64_t>& (*)(NodeConfig&);
using StrListRef = std::vector<std::string>& (*)(NodeConfig&);
using OptionRef = std::variant<StrRef, IntRef, BoolRef, IntListRef, StrListRef>;

// A string check: returns nullptr when `value` is fine, else what is wrong.
using StringCheck = const char* (*)(const std::string& value);

struct OptionSpec {
  const char* section;  // "dataplane.client"
  const char* key;      // "device"
  const char* doc;      // one line
  OptionRef ref;
  int64_t min = 0;      // integers and integer-list elements
  int64_t max = 0;
  const char* choices = nullptr;  // strings: "a|b|c"
  StringCheck check = nullptr;    // strings and string-list elements
};

struct SectionSpec {
  const char* name;
  const char* doc;
};

std::span<const OptionSpec> Options();
std::span<const SectionSpec> Sections();

// "section.key"
std::string DottedKey(const OptionSpec& option);
// "string", "integer", "boolean", "list of integers", "list of strings"
const char* TypeName(const OptionSpec& option);
// The option's value in `config`, as TOML.
std::string ValueAsToml(const OptionSpec& option, const NodeConfig& config);
// The allowed values, for docs and errors: "2..1000", "auto|primary|secondary", "".
std::string RangeText(const OptionSpec& option);

// A rule between options (deployed mode needs PCI addresses, ...): returns
// an error naming the key at fault, or nothing.
struct RuleViolation {
  std::string key;
  std::string detail;
};
std::vector<RuleViolation> CheckRules(const NodeConfig& config);
// One line of documentation per rule, in the order CheckRules applies them.
std::vector<const char*> RuleDocs();

}  // namespace twinstep::config
