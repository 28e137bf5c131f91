// The etcd v3 witness over the HTTP/JSON gateway (see etcd_witness.h).
#include "firmware/witness/etcd_witness.h"

#include <curl/curl.h>

#include <cstdio>
#include <utility>

namespace twinstep::witness {
namespace {

using nlohmann::json;
using firmware::ArbitrationKind;

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Base64(const std::string& in) {
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kB64[(v >> s) & 63];
  }
  if (i + 1 == in.size()) {
    const uint32_t v = uint8_t(in[i]) << 16;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

bool Unbase64(const std::string& in, std::string* out) {
  out->clear();
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const char* p = nullptr;
    for (const char* q = kB64; *q != '\0'; ++q)
      if (*q == c) p = q;
    if (p == nullptr) return false;
    acc = (acc << 6) | uint32_t(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      *out += char((acc >> bits) & 0xFF);
    }
  }
  return true;
}

size_t Collect(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

// etcd's gateway writes int64 as strings; accept numbers too.
bool ToInt64(const json& v, int64_t* out) {
  if (v.is_number_integer()) {
    *out = v.get<int64_t>();
    return true;
  }
  if (!v.is_string()) return false;
  try {
    *out = std::stoll(v.get<std::string>());
  } catch (...) {
    return false;
  }
  return true;
}

json Compare(const std::string& key, const char* target, const char* result, const char* field, json value) {
  return json{{"key", Base64(key)}, {"target", target}, {"result", result}, {field, std::move(value)}};
}

Unexpected<WitnessError> Fail(WitnessError e) { return MakeUnexpected(e); }

}  // namespace

const char* WitnessErrorMessage(WitnessError e) {
  switch (e) {
    case WitnessError::kUnreachable: return "etcd unreachable (connection failed)";
    case WitnessError::kTimeout: return "etcd did not answer within the request timeout";
    case WitnessError::kHttpStatus: return "etcd answered with an HTTP error status";
    case WitnessError::kBadResponse: return "etcd's answer is not a valid v3 gateway response";
    case WitnessError::kLeaseNotFound: return "the witness lease expired or is unknown to etcd";
  }
  return "unknown witness error";
}

EtcdWitness::EtcdWitness(EtcdWitnessConfig config)
    : config_(std::move(config)),
      epoch_key_("/twinstep/" + config_.pair + "/epoch"),
      owner_key_("/twinstep/" + config_.pair + "/owner") {
  curl_global_init(CURL_GLOBAL_DEFAULT);  // refcounted by libcurl; cheap after the first call
  curl_ = curl_easy_init();
}

EtcdWitness::~EtcdWitness() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

std::string EtcdWitness::PaddedEpoch(uint64_t epoch) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%020llu", static_cast<unsigned long long>(epoch));
  return buf;
}

std::string EtcdWitness::EpochValue(uint64_t epoch, uint32_t owner) {
  return PaddedEpoch(epoch) + "/" + std::to_string(owner);
}

bool EtcdWitness::ParseEpochValue(const std::string& v, uint64_t* epoch, uint32_t* owner) {
  if (v.size() < 22 || v[20] != '/') return false;
  uint64_t e = 0;
  for (size_t i = 0; i < 20; ++i) {
    if (v[i] < '0' || v[i] > '9') return false;
    e = e * 10 + uint64_t(v[i] - '0');
  }
  uint64_t o = 0;
  for (size_t i = 21; i < v.size(); ++i) {
    if (v[i] < '0' || v[i] > '9' || i > 31) return false;
    o = o * 10 + uint64_t(v[i] - '0');
  }
  if (o > UINT32_MAX) return false;
  *epoch = e;
  *owner = static_cast<uint32_t>(o);
  return true;
}

Expected<json, WitnessError> EtcdWitness::Post(const char* path, const json& body) {
  CURL* c = static_cast<CURL*>(curl_);
  if (c == nullptr || config_.endpoints.empty()) return Fail(WitnessError::kUnreachable);
  const std::string payload = body.dump();
  std::string response;
  CURLcode rc = CURLE_COULDNT_CONNECT;
  for (size_t tried = 0; tried < config_.endpoints.size(); ++tried) {
    const std::string url = config_.endpoints[current_ % config_.endpoints.size()] + path;
    response.clear();
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(payload.size()));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &response);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, config_.timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, config_.timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    rc = curl_easy_perform(c);
    long opened = 0;
    if (curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &opened) == CURLE_OK && opened > 0) connections_opened_ += opened;
    if (rc == CURLE_OK) break;
    ++current_;  // this member failed: the next request starts at the next one
    // A refused connection costs nothing, so try the next member now; a
    // timeout already spent the budget of this request.
    if (rc == CURLE_OPERATION_TIMEDOUT) return Fail(WitnessError::kTimeout);
  }
  if (rc != CURLE_OK) return Fail(WitnessError::kUnreachable);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  json j = json::parse(response, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Fail(WitnessError::kBadResponse);
  if (status != 200) {
    const std::string msg = j.value("message", std::string());
    if (msg.find("lease not found") != std::string::npos) return Fail(WitnessError::kLeaseNotFound);
    return Fail(WitnessError::kHttpStatus);
  }
  return j;
}

Expected<int64_t, WitnessError> EtcdWitness::EnsureLease() {
  if (lease_id_ != 0) return lease_id_;
  auto r = Post("/v3/lease/grant", json{{"TTL", config_.lease_ttl_s}});
  if (!r) return Fail(r.error());
  int64_t id = 0;
  if (!r->contains("ID") || !ToInt64((*r)["ID"], &id) || id == 0) return Fail(WitnessError::kBadResponse);
  lease_id_ = id;
  return id;
}

Expected<int64_t, WitnessError> EtcdWitness::KeepAlive() try {
  auto lease = EnsureLease();
  if (!lease) return Fail(lease.error());
  auto r = Post("/v3/lease/keepalive", json{{"ID", std::to_string(*lease)}});
  if (!r) return Fail(r.error());
  int64_t ttl = 0;
  const json* result = r->contains("result") ? &(*r)["result"] : nullptr;
  if (result == nullptr || !result->contains("TTL") || !ToInt64((*result)["TTL"], &ttl) || ttl <= 0) {
    lease_id_ = 0;  // expired: the next request grants a new one
    return Fail(WitnessError::kLeaseNotFound);
  }
  return ttl;
} catch (const json::exception&) {
  return Fail(WitnessError::kBadResponse);
}

Expected<void, WitnessError> EtcdWitness::Release() {
  if (lease_id_ == 0) return {};
  const int64_t id = lease_id_;
  lease_id_ = 0;  // not renewed from now on: if the revoke fails, the lease lapses at its TTL
  auto r = Post("/v3/lease/revoke", json{{"ID", std::to_string(id)}});
  if (!r && r.error() != WitnessError::kLeaseNotFound) return Fail(r.error());
  return {};
}

Expected<json, WitnessError> EtcdWitness::Txn(const json& compares, uint64_t target, uint32_t node_id) {
  const json success = json::array(
      {json{{"requestPut", {{"key", Base64(epoch_key_)}, {"value", Base64(EpochValue(target, node_id))}}}},
       json{{"requestPut",
             {{"key", Base64(owner_key_)}, {"value", Base64(std::to_string(node_id))},
              {"lease", std::to_string(lease_id_)}}}}});
  const json failure = json::array({json{{"requestRange", {{"key", Base64(epoch_key_)}}}},
                                    json{{"requestRange", {{"key", Base64(owner_key_)}}}}});
  return Post("/v3/kv/txn", json{{"compare", compares}, {"success", success}, {"failure", failure}});
}

Expected<Decision, WitnessError> EtcdWitness::DecodeState(const json& txn) {
  Decision d;
  const json* responses = txn.contains("responses") ? &txn["responses"] : nullptr;
  if (responses == nullptr || !responses->is_array() || responses->size() != 2) return Fail(WitnessError::kBadResponse);
  for (size_t i = 0; i < 2; ++i) {
    const json& rr = (*responses)[i];
    if (!rr.contains("response_range")) return Fail(WitnessError::kBadResponse);
    const json& range = rr["response_range"];
    if (!range.contains("kvs") || !range["kvs"].is_array() || range["kvs"].empty()) continue;
    std::string value;
    if (!Unbase64(range["kvs"][0].value("value", std::string()), &value)) return Fail(WitnessError::kBadResponse);
    if (i == 0 && !ParseEpochValue(value, &d.epoch, &d.owner)) return Fail(WitnessError::kBadResponse);
    if (i == 1) d.owner_live = true;
  }
  return d;
}

Expected<Decision, WitnessError> EtcdWitness::Read() try {
  const json ranges = json::array({json{{"requestRange", {{"key", Base64(epoch_key_)}}}},
                                   json{{"requestRange", {{"key", Base64(owner_key_)}}}}});
  auto r = Post("/v3/kv/txn", json{{"compare", json::array()}, {"success", ranges}});
  if (!r) return Fail(r.error());
  return DecodeState(*r);
} catch (const json::exception&) {
  return Fail(WitnessError::kBadResponse);
}

Expected<Decision, WitnessError> EtcdWitness::Arbitrate1(uint32_t node_id, ArbitrationKind kind, uint64_t epoch) {
  auto lease = EnsureLease();
  if (!lease) return Fail(lease.error());
  const uint64_t target = epoch + 1;
  json compares = json::array({Compare(epoch_key_, "VALUE", "LESS", "value", Base64(PaddedEpoch(target)))});
  const json no_live_owner = Compare(owner_key_, "CREATE", "EQUAL", "create_revision", "0");
  if (kind == ArbitrationKind::kColdStart) compares.push_back(no_live_owner);
  auto r = Txn(compares, target, node_id);
  if (!r) return Fail(r.error());
  if (r->value("succeeded", false)) return Decision{true, target, node_id, true};
  auto state = DecodeState(*r);
  if (!state) return state;
  if (state->epoch == 0 && state->owner == 0) {
    // No epoch key yet: etcd fails every value comparison on a missing key,
    // so the first owner is decided by the key's absence instead.
    compares = json::array({Compare(epoch_key_, "CREATE", "EQUAL", "create_revision", "0")});
    if (kind == ArbitrationKind::kColdStart) compares.push_back(no_live_owner);
    r = Txn(compares, target, node_id);
    if (!r) return Fail(r.error());
    if (r->value("succeeded", false)) return Decision{true, target, node_id, true};
    state = DecodeState(*r);
    if (!state) return state;
  }
  if (state->epoch == target && state->owner == node_id) {
    // We already won this epoch (an earlier answer was lost to a timeout):
    // claim the owner key again with our current lease.
    compares = json::array({Compare(epoch_key_, "VALUE", "EQUAL", "value", Base64(EpochValue(target, node_id)))});
    r = Txn(compares, target, node_id);
    if (!r) return Fail(r.error());
    if (r->value("succeeded", false)) return Decision{true, target, node_id, true};
    state = DecodeState(*r);
    if (!state) return state;
  }
  state->granted = false;
  return state;
}

Expected<Decision, WitnessError> EtcdWitness::Arbitrate(uint32_t node_id, ArbitrationKind kind, uint64_t epoch) {
  try {
    auto d = Arbitrate1(node_id, kind, epoch);
    if (!d && d.error() == WitnessError::kLeaseNotFound) {
      lease_id_ = 0;  // our lease expired under us: take a new one and ask once more
      d = Arbitrate1(node_id, kind, epoch);
    }
    return d;
  } catch (const json::exception&) {  // a field of the wrong JSON type
    return Fail(WitnessError::kBadResponse);
  }
}

}  // namespace twinstep::witness
