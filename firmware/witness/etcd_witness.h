// The witness on etcd v3 through its HTTP/JSON gateway (libcurl): the pair's
// epoch key only grows, by compare-and-swap; the owner key lives on a lease.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "firmware/witness/witness.h"

namespace twinstep::witness {

struct EtcdWitnessConfig {
  // The etcd cluster's client URLs; a member that refuses the connection is
  // skipped at once, one that times out is skipped from the next request on.
  std::vector<std::string> endpoints = {"http://127.0.0.1:2379"};
  std::string pair = "pair0";   // keys live under /twinstep/<pair>/
  int64_t lease_ttl_s = 10;     // the owner key's lease
  long timeout_ms = 100;        // one HTTP request, connect included
};

class EtcdWitness : public Witness {
 public:
  explicit EtcdWitness(EtcdWitnessConfig config);
  ~EtcdWitness() override;
  EtcdWitness(const EtcdWitness&) = delete;
  EtcdWitness& operator=(const EtcdWitness&) = delete;

  Expected<Decision, WitnessError> Arbitrate(uint32_t node_id, firmware::ArbitrationKind kind,
                                             uint64_t epoch) override;
  Expected<int64_t, WitnessError> KeepAlive() override;
  Expected<void, WitnessError> Release() override;
  // The stored epoch, its owner and whether the owner key is alive.
  Expected<Decision, WitnessError> Read();
  int64_t lease_id() const { return lease_id_; }
  // TCP connections opened so far (1 while the reused connection holds).
  uint64_t connections_opened() const { return connections_opened_; }
  const std::string& epoch_key() const { return epoch_key_; }
  const std::string& owner_key() const { return owner_key_; }

  // The epoch key's value: a 20-digit zero-padded epoch, so that etcd's byte
  // comparison orders epochs numerically, then "/" and the owner's node id.
  static std::string EpochValue(uint64_t epoch, uint32_t owner);
  static std::string PaddedEpoch(uint64_t epoch);
  // Parses EpochValue; false if malformed.
  static bool ParseEpochValue(const std::string& v, uint64_t* epoch, uint32_t* owner);

 private:
  Expected<nlohmann::json, WitnessError> Post(const char* path, const nlohmann::json& body);
  Expected<int64_t, WitnessError> EnsureLease();
  // One transaction: `compares` hold → both keys written; else both read.
  Expected<nlohmann::json, WitnessError> Txn(const nlohmann::json& compares, uint64_t target, uint32_t node_id);
  Expected<Decision, WitnessError> Arbitrate1(uint32_t node_id, firmware::ArbitrationKind kind, uint64_t epoch);
  Expected<Decision, WitnessError> DecodeState(const nlohmann::json& txn_response);

  EtcdWitnessConfig config_;
  std::string epoch_key_;
  std::string owner_key_;
  void* curl_ = nullptr;  // CURL*, reused so requests share one connection
  size_t current_ = 0;    // index into config_.endpoints
  int64_t lease_id_ = 0;
  uint64_t connections_opened_ = 0;
};

}  // namespace twinstep::witness
