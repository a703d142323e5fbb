// Handshake decisions as pure functions: whether a peer's Hello is accepted, whether a Hello
// means we dialed ourselves, and which of two connections between the same pair survives.
// Thread-safety: stateless; safe from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/errors.hpp"
#include "proto/message.hpp"

namespace wmd::net {

// What our side requires of a peer.
struct LocalIdentity {
  std::string peer_id;
  std::string cluster;
  std::uint32_t page_size_bytes = 0;
  std::uint64_t max_size_bytes = 0;
};

enum class HelloVerdict {
  accept,
  self,    // the Hello carries our own id: we reached ourselves; close and stop dialing there
  refuse,  // see HelloDecision::reason
};

struct HelloDecision {
  HelloVerdict verdict = HelloVerdict::accept;
  errc reason = errc::ok;  // set when refused; sent to the peer in an Error frame
  std::string detail;      // for the log line and the Error frame text
};

HelloDecision check_hello(const LocalIdentity& ours, const proto::Hello& theirs);

// Under TLS, a peer's id is bound to its certificate: it must equal one of certificate_names
// (the subject CN or a DNS subjectAltName, see peer_certificate_names). Refused with
// invalid_peer_id otherwise, so that one node's certificate cannot speak for another node.
HelloDecision check_certified_id(const std::string& peer_id,
                                 const std::vector<std::string>& certificate_names);

// Two established connections between us and peer_id: `a` and `b`, each either dialed by us
// (outbound) or by the peer. The connection dialed by the side with the smaller id survives,
// so both sides keep the same one without talking about it.
// Returns true when the connection with the given direction is the one to keep.
// REQUIRES: our_id != peer_id
bool keeps_connection(const std::string& our_id, const std::string& peer_id, bool outbound);

// A second connection presents the id of a peer that has an established session. Which one
// stays: a session that is settled (established longer than `settle`) and alive (something
// received within `silence`) keeps its place and the newcomer is refused, so that a client
// presenting a live peer's id cannot displace it; a genuinely restarted peer gets in as soon
// as its old session is dead (closed, or silent for `silence`: heartbeats arrive every
// heartbeat interval). Otherwise two young connections of the pair dialled at once are decided
// by keeps_connection, the same way on both sides, or (same direction) the newer one stays.
struct ExistingSession {
  bool outbound = false;
  std::chrono::steady_clock::duration age{};      // since its handshake
  std::chrono::steady_clock::duration silence{};  // since its last received byte
};
bool keeps_newcomer(const std::string& our_id, const std::string& peer_id,
                    const ExistingSession& existing, bool newcomer_outbound,
                    std::chrono::steady_clock::duration settle,
                    std::chrono::steady_clock::duration max_silence);

}  // namespace wmd::net
