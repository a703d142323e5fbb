#include "daemon/net/handshake.hpp"

#include <algorithm>

namespace wmd::net {

HelloDecision check_hello(const LocalIdentity& ours, const proto::Hello& theirs) {
  if (theirs.protocol_version != proto::kProtocolVersion) {
    return {HelloVerdict::refuse, errc::protocol_version_mismatch,
            "protocol version " + std::to_string(theirs.protocol_version) + ", expected " +
                std::to_string(proto::kProtocolVersion)};
  }
  if (theirs.cluster != ours.cluster) {
    return {HelloVerdict::refuse, errc::cluster_mismatch,
            "cluster '" + theirs.cluster + "', expected '" + ours.cluster + "'"};
  }
  if (theirs.page_size_bytes != ours.page_size_bytes) {
    return {HelloVerdict::refuse, errc::page_size_mismatch,
            "page size " + std::to_string(theirs.page_size_bytes) + ", expected " +
                std::to_string(ours.page_size_bytes)};
  }
  if (!is_valid_peer_id(theirs.peer_id)) {
    return {HelloVerdict::refuse, errc::invalid_peer_id, "invalid peer id"};
  }
  if (theirs.peer_id == ours.peer_id) {
    return {HelloVerdict::self, errc::ok, "connected to ourselves"};
  }
  if (theirs.size_bytes > ours.max_size_bytes) {
    return {HelloVerdict::refuse, errc::beyond_max_size,
            "size " + std::to_string(theirs.size_bytes) + " beyond our maximum " +
                std::to_string(ours.max_size_bytes)};
  }
  return {};
}

HelloDecision check_certified_id(const std::string& peer_id,
                                 const std::vector<std::string>& certificate_names) {
  if (std::find(certificate_names.begin(), certificate_names.end(), peer_id) !=
      certificate_names.end()) {
    return {};
  }
  std::string names;
  for (const auto& name : certificate_names) names += (names.empty() ? "" : ", ") + name;
  return {HelloVerdict::refuse, errc::invalid_peer_id,
          "peer id '" + peer_id + "' is not a name of its certificate (CN or DNS subjectAltName: " +
              (names.empty() ? std::string("none") : names) + ")"};
}

bool keeps_newcomer(const std::string& our_id, const std::string& peer_id,
                    const ExistingSession& existing, bool newcomer_outbound,
                    std::chrono::steady_clock::duration settle,
                    std::chrono::steady_clock::duration max_silence) {
  if (existing.age >= settle) return existing.silence > max_silence;
  if (existing.outbound == newcomer_outbound) return true;
  return keeps_connection(our_id, peer_id, newcomer_outbound);
}

bool keeps_connection(const std::string& our_id, const std::string& peer_id, bool outbound) {
  // The survivor is the connection dialed by the smaller id: ours when we are smaller.
  const bool we_are_smaller = our_id < peer_id;
  return outbound == we_are_smaller;
}

}  // namespace wmd::net
