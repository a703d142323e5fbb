#include "proto/message.hpp"

#include <algorithm>
#include <variant>

namespace wmd::proto {

namespace {

constexpr MessageType type_for(const Hello&) {
  return MessageType::hello;
}
constexpr MessageType type_for(const Patch&) {
  return MessageType::patch;
}
constexpr MessageType type_for(const Growth&) {
  return MessageType::growth;
}
constexpr MessageType type_for(const Digests&) {
  return MessageType::digests;
}
constexpr MessageType type_for(const PageStates&) {
  return MessageType::page_states;
}
constexpr MessageType type_for(const CatchupDone&) {
  return MessageType::catchup_done;
}
constexpr MessageType type_for(const Heartbeat&) {
  return MessageType::heartbeat;
}
constexpr MessageType type_for(const Error&) {
  return MessageType::error;
}

}  // namespace

MessageType type_of(const Message& message) noexcept {
  return std::visit([](const auto& m) { return type_for(m); }, message);
}

const char* to_string(MessageType type) noexcept {
  switch (type) {
    case MessageType::hello:
      return "hello";
    case MessageType::patch:
      return "patch";
    case MessageType::growth:
      return "growth";
    case MessageType::digests:
      return "digests";
    case MessageType::page_states:
      return "page_states";
    case MessageType::catchup_done:
      return "catchup_done";
    case MessageType::heartbeat:
      return "heartbeat";
    case MessageType::error:
      return "error";
  }
  return "unknown";
}

std::vector<PeerId> peers_named_by(const PageStates& states) {
  if (!states.named_peers.empty()) return states.named_peers;
  std::vector<PeerId> peers;
  for (const PageState& page : states.pages) {
    for (const VersionRun& run : page.versions) {
      if (!run.ts.peer.empty() && (peers.empty() || peers.back() != run.ts.peer)) {
        peers.push_back(run.ts.peer);
      }
    }
  }
  std::sort(peers.begin(), peers.end());
  peers.erase(std::unique(peers.begin(), peers.end()), peers.end());
  return peers;
}

}  // namespace wmd::proto
