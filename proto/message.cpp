#include "proto/message.hpp"

#include <algorithm>
#include <variant>

#include "engine/stamped_pages.hpp"

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

bool operator==(const PageStates& a, const PageStates& b) {
  if (a.stamped.pages.empty() && b.stamped.pages.empty()) return a.pages == b.pages;
  return all_page_states(a) == all_page_states(b);
}

PageStates page_states_of(std::vector<PageState> pages) {
  PageStates states;
  states.pages = std::move(pages);
  return states;
}

std::vector<PageState> all_page_states(const PageStates& states) {
  if (states.stamped.pages.empty()) return states.pages;
  return to_page_states(states.stamped);
}

std::size_t page_state_count(const PageStates& states) {
  return states.pages.size() + states.stamped.pages.size();
}

std::vector<PeerId> peers_named_by(const PageStates& states) {
  if (!states.named_peers.empty()) return states.named_peers;
  std::vector<PeerId> peers;
  for (const Timestamp& ts : states.stamped.stamps) peers.push_back(ts.peer);
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
