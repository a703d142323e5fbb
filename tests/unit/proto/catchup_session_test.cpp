// CatchupSession: the catch-up exchange with one peer, driven without sockets or an engine (a
// table of page states answers for it).
#include "proto/catchup_session.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>

namespace wmd::proto {
namespace {

constexpr std::uint32_t kPage = 4096;
constexpr std::uint64_t kZeroDigest = 0x2e40;

// The engine's side: pages 0..count-1 with digest 100 + page (page 0 changed locally once).
struct FakeEngine {
  std::map<std::uint64_t, std::uint64_t> digests;
  int exports = 0;
  bool pending_local_change = true;

  CatchupSource source() {
    CatchupSource s;
    s.size_bytes = [] { return 64 * kPage; };
    s.zero_page_digest = [] { return kZeroDigest; };
    s.nonzero_digests = [this] {
      std::vector<PageDigest> out;
      for (const auto& [page, digest] : digests) out.push_back({page, digest});
      return out;
    };
    s.export_pages = export_one_at_a_time([this](std::uint64_t page) -> Result<ExportedPage> {
      ++exports;
      ExportedPage exported;
      exported.state.page_index = page;
      exported.state.bytes.assign(kPage, static_cast<std::uint8_t>(page));
      exported.state.versions.push_back({0, kPage, Timestamp{1, "a"}});
      if (page == 0 && pending_local_change) {
        pending_local_change = false;
        Patch patch;
        patch.origin = "a";
        patch.lamport = 2;
        patch.seq = 1;
        patch.runs.push_back(Run{0, 1});
        patch.bytes.push_back(7);
        exported.local_patches.push_back(patch);
      }
      return exported;
    });
    return s;
  }
};

FakeEngine engine_with_pages(std::uint64_t count) {
  FakeEngine engine;
  for (std::uint64_t page = 0; page < count; ++page) engine.digests[page] = 100 + page;
  return engine;
}

// Steps of about one page each, two in flight.
CatchupConfig small_steps() {
  return CatchupConfig{64 * 1024, kPage, 2};
}

DigestSet peer_holding_nothing(bool reply_requested = false) {
  DigestSet set;
  set.size_bytes = 64 * kPage;
  set.reply_requested = reply_requested;
  return set;
}

std::vector<std::uint64_t> pages_in(const CatchupSend& send) {
  std::vector<std::uint64_t> pages;
  for (const auto& message : send.messages) {
    if (const auto* states = std::get_if<PageStates>(&message)) {
      for (const auto& state : all_page_states(*states)) pages.push_back(state.page_index);
    }
  }
  return pages;
}

// A live patch of ours over `runs`, its payload bytes 1, 2, 3, ...
Patch live_patch(std::vector<Run> runs) {
  Patch patch{"a", 0, 0, std::move(runs), {}};
  for (const Run& run : patch.runs) {
    for (std::uint32_t i = 0; i < run.length; ++i) {
      patch.bytes.push_back(static_cast<std::uint8_t>(patch.bytes.size() + 1));
    }
  }
  return patch;
}

bool ends_round(const CatchupSend& send) {
  return !send.messages.empty() && std::holds_alternative<CatchupDone>(send.messages.back());
}

}  // namespace

TEST_CASE("our digests go out one set at a time; a request meanwhile follows the written set") {
  FakeEngine engine = engine_with_pages(3);
  CatchupSession session(small_steps(), engine.source());
  auto first = session.request_digests(false);
  REQUIRE(first.size() == 1);
  CHECK(first[0].kind == CatchupSend::Kind::digests);
  REQUIRE(first[0].messages.size() == 1);
  const auto& digests = std::get<Digests>(first[0].messages[0]);
  CHECK(digests.last);
  CHECK(digests.digests.size() == 3);
  CHECK_FALSE(digests.reply_requested);

  CHECK(session.request_digests(true).empty());   // queued behind the first set
  CHECK(session.request_digests(false).empty());  // merged with it
  auto again = session.written(CatchupSend::Kind::digests);
  REQUIRE(again.size() == 1);
  CHECK(std::get<Digests>(again[0].messages.back()).reply_requested);
  CHECK(session.written(CatchupSend::Kind::digests).empty());  // nothing else waited
}

TEST_CASE("a step asks for its pages in batches, as many as its budget has room for") {
  std::vector<std::size_t> batches;
  const auto recording = [&batches](CatchupSource source) {
    source.export_pages = [&batches, inner = source.export_pages](auto pages) {
      batches.push_back(pages.size());
      return inner(pages);
    };
    return source;
  };
  FakeEngine engine = engine_with_pages(64);
  const CatchupSource source = recording(engine.source());
  const ExportBatch first = engine.source().export_pages(std::vector<std::uint64_t>{0});
  REQUIRE(first.states.pages.size() == 1);
  const std::uint64_t page_wire = page_state_wire_bytes(first.states, first.states.pages[0]);
  engine.pending_local_change = false;
  // Ten pages a step, one step in flight.
  CatchupSession session(CatchupConfig{1 << 20, 10 * page_wire, 1}, source);
  auto sends = session.start_round(peer_holding_nothing());
  REQUIRE(sends.size() == 1);
  CHECK(pages_in(sends[0]).size() == 10);
  CHECK(batches == std::vector<std::size_t>{1, 9});  // the first page tells the size
  batches.clear();
  sends = session.written(CatchupSend::Kind::step);
  REQUIRE(sends.size() == 1);
  CHECK(pages_in(sends[0]).size() == 10);
  CHECK(batches == std::vector<std::size_t>{10});
  // A budget of more than kExportBatchPages pages asks for at most that many at a time.
  FakeEngine big = engine_with_pages(100);
  big.pending_local_change = false;
  batches.clear();
  CatchupSession big_session(CatchupConfig{1 << 20, 80 * page_wire, 1}, recording(big.source()));
  sends = big_session.start_round(peer_holding_nothing());
  REQUIRE(sends.size() == 1);
  CHECK(pages_in(sends[0]).size() == 80);
  CHECK(batches == std::vector<std::size_t>{1, kExportBatchPages, kExportBatchPages, 15});
}

TEST_CASE("each frame of a step carries its own sorted table, every entry named by its pages") {
  // Pages of alternating origins, each with a timestamp of its own and a zero stretch, exported
  // in batches that frames of three pages each split.
  CatchupSource source;
  source.size_bytes = [] { return 64 * kPage; };
  source.zero_page_digest = [] { return kZeroDigest; };
  source.nonzero_digests = [] {
    std::vector<PageDigest> out;
    for (std::uint64_t page = 0; page < 10; ++page) out.push_back({page, 100 + page});
    return out;
  };
  const auto state_of = [](std::uint64_t page) {
    PageState state;
    state.page_index = page;
    state.bytes.assign(kPage, 1);
    std::fill(state.bytes.begin() + 100, state.bytes.begin() + 200, 0);
    // Later pages have older timestamps: a frame's table is not in the order entries are met.
    const Timestamp ts{20 - page, page % 2 == 0 ? "node-a" : "node-b"};
    state.versions = {{0, 100, ts}, {100, 200, {}}, {200, kPage, {3, "node-c"}}};
    return state;
  };
  source.export_pages =
      export_one_at_a_time([&state_of](std::uint64_t page) -> Result<ExportedPage> {
        return ExportedPage{state_of(page), {}};
      });
  const std::uint64_t page_wire = page_state_wire_bytes(state_of(0));
  CatchupSession session(
      CatchupConfig{static_cast<std::uint32_t>(kPageStatesSlackBytes + 3 * page_wire),
                    10 * page_wire, 1},
      source);
  auto sends = session.start_round(peer_holding_nothing());
  REQUIRE(sends.size() == 1);
  std::vector<std::uint64_t> pages;
  int frames = 0;
  for (const Message& message : sends[0].messages) {
    const auto* states = std::get_if<PageStates>(&message);
    if (!states) continue;
    ++frames;
    CHECK(states->pages.empty());
    const StampedPageStates& frame = states->stamped;
    CHECK(std::is_sorted(frame.stamps.begin(), frame.stamps.end()));
    CHECK(std::adjacent_find(frame.stamps.begin(), frame.stamps.end()) == frame.stamps.end());
    std::vector<bool> named(frame.stamps.size(), false);
    for (const StampedRun& run : frame.runs) {
      REQUIRE(run.stamp <= frame.stamps.size());
      if (run.stamp != 0) named[run.stamp - 1] = true;
    }
    CHECK(std::find(named.begin(), named.end(), false) == named.end());
    for (const PageState& state : all_page_states(*states)) {
      CHECK(state == state_of(state.page_index));
      pages.push_back(state.page_index);
    }
  }
  CHECK(frames == 4);  // 3 + 3 + 3 + 1
  CHECK(pages == std::vector<std::uint64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}

TEST_CASE("a round sends the pages the peer lacks in flow-controlled steps, then CatchupDone") {
  FakeEngine engine = engine_with_pages(5);
  CatchupSession session(small_steps(), engine.source());
  DigestSet theirs = peer_holding_nothing();
  theirs.digests = {{1, 101}, {3, 999}};  // page 1 equal, page 3 different
  auto sends = session.start_round(theirs);
  CHECK(session.active());
  CHECK(session.round_page_count() == 4);  // 0, 2, 3, 4
  REQUIRE(sends.size() == 2);              // two steps in flight, then it waits
  CHECK(pages_in(sends[0]) == std::vector<std::uint64_t>{0});
  CHECK(pages_in(sends[1]) == std::vector<std::uint64_t>{2});
  CHECK(engine.exports == 2);

  auto next = session.written(CatchupSend::Kind::step);
  REQUIRE(next.size() == 1);
  CHECK(pages_in(next[0]) == std::vector<std::uint64_t>{3});
  next = session.written(CatchupSend::Kind::step);
  REQUIRE(next.size() == 1);
  CHECK(pages_in(next[0]) == std::vector<std::uint64_t>{4});
  CHECK(next[0].round_finished);
  REQUIRE(ends_round(next[0]));
  CHECK(std::get<CatchupDone>(next[0].messages.back()).pages_sent == 4);
  CHECK(session.round_pages_sent() == 4);
  CHECK(session.round_bytes_sent() == 4 * kPage);
  CHECK_FALSE(session.active());
  CHECK(session.written(CatchupSend::Kind::step).empty());
  CHECK(session.written(CatchupSend::Kind::step).empty());
}

TEST_CASE("the local changes an export absorbed come back with its step") {
  FakeEngine engine = engine_with_pages(1);
  CatchupSession session(small_steps(), engine.source());
  auto sends = session.start_round(peer_holding_nothing());
  REQUIRE(sends.size() == 1);
  REQUIRE(sends[0].local_patches.size() == 1);
  CHECK(sends[0].local_patches[0].runs[0] == Run{0, 1});
}

TEST_CASE("a peer asking for a reply gets our digests before our page states") {
  FakeEngine engine = engine_with_pages(1);
  CatchupSession session(small_steps(), engine.source());
  auto sends = session.start_round(peer_holding_nothing(/*reply_requested=*/true));
  REQUIRE(sends.size() == 2);
  CHECK(sends[0].kind == CatchupSend::Kind::digests);
  CHECK_FALSE(std::get<Digests>(sends[0].messages[0]).reply_requested);
  CHECK(sends[1].kind == CatchupSend::Kind::step);
  CHECK(ends_round(sends[1]));
}

TEST_CASE("a new round replaces the one being sent; steps in flight count across rounds") {
  FakeEngine engine = engine_with_pages(6);
  CatchupSession session(small_steps(), engine.source());
  const auto first_round = session.start_round(peer_holding_nothing());
  CHECK(first_round.size() == 2);
  CHECK(session.start_round(peer_holding_nothing()).empty());  // two steps still queued
  CHECK(session.round() == 2);
  auto next = session.written(CatchupSend::Kind::step);
  REQUIRE(next.size() == 1);
  CHECK(pages_in(next[0]) == std::vector<std::uint64_t>{0});  // the new round, from its start
}

TEST_CASE("a round with nothing to send is only a CatchupDone") {
  FakeEngine engine;
  CatchupSession session(small_steps(), engine.source());
  auto sends = session.start_round(peer_holding_nothing());
  REQUIRE(sends.size() == 1);
  REQUIRE(sends[0].messages.size() == 1);
  CHECK(std::get<CatchupDone>(sends[0].messages[0]).pages_sent == 0);
}

TEST_CASE("a page whose state does not fit a frame is reported and left out") {
  FakeEngine engine = engine_with_pages(2);
  CatchupSession session(CatchupConfig{4096 + kPage, kPage, 2}, engine.source());
  auto sends = session.start_round(peer_holding_nothing());
  REQUIRE(sends.size() == 1);
  CHECK(sends[0].oversized_pages.size() == 2);
  CHECK(sends[0].oversized_pages[0].page == 0);
  CHECK(sends[0].oversized_pages[0].version_runs == 1);
  CHECK(pages_in(sends[0]).empty());
  CHECK(std::get<CatchupDone>(sends[0].messages.back()).pages_sent == 0);
}

TEST_CASE("the peer's page states are counted until its CatchupDone") {
  FakeEngine engine;
  CatchupSession session(small_steps(), engine.source());
  CHECK_FALSE(session.active());
  session.page_state_received(kPage);
  session.page_state_received(kPage);
  CHECK(session.active());
  const ReceivedRound received = session.catchup_done_received();
  CHECK(received.pages == 2);
  CHECK(received.bytes == 2 * kPage);
  CHECK_FALSE(session.active());
  CHECK(session.catchup_done_received().pages == 0);
}

TEST_CASE("the peer's digest chunks make a set at the last one") {
  FakeEngine engine;
  CatchupSession session(small_steps(), engine.source());
  CHECK_FALSE(session.receive_digests(Digests{kPage, false, false, {{1, 5}}}));
  auto set = session.receive_digests(Digests{kPage, true, true, {{2, 6}}});
  REQUIRE(set);
  CHECK(set->reply_requested);
  CHECK(set->digests.size() == 2);
}

}  // namespace wmd::proto

namespace wmd::proto {

TEST_CASE("a live patch skips the pages the round will still export, which then go next") {
  FakeEngine engine = engine_with_pages(6);
  engine.pending_local_change = false;
  CatchupSession session(small_steps(), engine.source());
  const Patch patch = live_patch({Run{5 * kPage, 2}, Run{0, 1}});  // pages 5 and 0
  Patch kept;
  auto sends = session.start_round(peer_holding_nothing());  // pages 0 and 1 go at once
  REQUIRE(sends.size() == 2);
  // Page 0 was exported (its state is queued without these bytes): that part goes live.
  REQUIRE(session.cut_live_patch(patch, kPage, kept) == PatchCut::part);
  CHECK(kept.runs == std::vector<Run>{Run{0, 1}});
  CHECK(kept.bytes == std::vector<std::uint8_t>{3});
  // Page 5 jumps the plan: it is in the next step.
  auto next = session.written(CatchupSend::Kind::step);
  REQUIRE(next.size() == 1);
  CHECK(pages_in(next[0]) == std::vector<std::uint64_t>{5});
  next = session.written(CatchupSend::Kind::step);
  REQUIRE(next.size() == 1);
  CHECK(pages_in(next[0]) == std::vector<std::uint64_t>{2});
  // A step's own absorbed changes are carried by its states.
  const std::vector<std::uint64_t> carried{0};
  CHECK(session.cut_live_patch(patch, kPage, kept, carried) == PatchCut::part);
  CHECK(kept.runs == std::vector<Run>{Run{5 * kPage, 2}});
}

TEST_CASE("live patches before the first round go whole, and their pages go first in it") {
  FakeEngine engine = engine_with_pages(8);
  engine.pending_local_change = false;
  CatchupSession session(small_steps(), engine.source());
  const Patch patch = live_patch({Run{6 * kPage, 2}, Run{3 * kPage + 10, kPage}});  // 6, 3, 4
  Patch kept;
  // The mesh holds it from the peer until the round starts: this side cuts nothing.
  CHECK(session.cut_live_patch(patch, kPage, kept) == PatchCut::whole);
  CHECK(session.cut_live_patch(patch, kPage, kept) == PatchCut::whole);  // noted once
  DigestSet theirs = peer_holding_nothing();
  theirs.digests = {{4, 104}};  // the peer has page 4 already: not in the plan
  auto sends = session.start_round(theirs);
  REQUIRE(sends.size() == 2);
  CHECK(pages_in(sends[0]) == std::vector<std::uint64_t>{3});
  CHECK(pages_in(sends[1]) == std::vector<std::uint64_t>{6});
  std::vector<std::uint64_t> rest;
  for (;;) {
    auto next = session.written(CatchupSend::Kind::step);
    if (next.empty()) break;
    for (const auto& send : next) {
      for (std::uint64_t page : pages_in(send)) rest.push_back(page);
    }
  }
  CHECK(rest == std::vector<std::uint64_t>{0, 1, 2, 5, 7});  // each page once
  CHECK(session.written(CatchupSend::Kind::step).empty());   // the other step in flight
  // A second round is planned as usual: the notes were for the first.
  sends = session.start_round(peer_holding_nothing());
  REQUIRE(sends.size() == 2);
  CHECK(pages_in(sends[0]) == std::vector<std::uint64_t>{0});
  CHECK(pages_in(sends[1]) == std::vector<std::uint64_t>{1});
}

TEST_CASE("a step lists the pages whose export absorbed local changes") {
  FakeEngine engine = engine_with_pages(1);
  CatchupSession session(small_steps(), engine.source());
  auto sends = session.start_round(peer_holding_nothing());
  REQUIRE(sends.size() == 1);
  CHECK(sends[0].absorbing_pages == std::vector<std::uint64_t>{0});
}

TEST_CASE("pages owed after dropped patches go out as page states, once, without digests") {
  FakeEngine engine = engine_with_pages(8);
  engine.pending_local_change = false;
  CatchupSession session(small_steps(), engine.source());
  CHECK(session.owe_pages({}).empty());  // nothing owed: no round

  auto sends = session.owe_pages({2, 5, 6});
  CHECK(session.active());
  REQUIRE(sends.size() == 2);  // flow control as in any round
  CHECK(pages_in(sends[0]) == std::vector<std::uint64_t>{2});
  CHECK(pages_in(sends[1]) == std::vector<std::uint64_t>{5});
  // More pages dropped while the round runs: added to it, each page once (5 again: it was
  // exported before these patches were dropped).
  CHECK(session.owe_pages({5, 6, 7}).empty());  // two steps already in flight
  std::vector<std::uint64_t> rest;
  for (int i = 0; i < 3; ++i) {
    auto next = session.written(CatchupSend::Kind::step);
    REQUIRE(next.size() == 1);
    for (auto page : pages_in(next[0])) rest.push_back(page);
    if (i == 2) {
      REQUIRE(ends_round(next[0]));
      CHECK(std::get<CatchupDone>(next[0].messages.back()).pages_sent == 5);
    }
  }
  std::sort(rest.begin(), rest.end());
  CHECK(rest == std::vector<std::uint64_t>{5, 6, 7});
  CHECK(engine.exports == 5);
  // A live patch on an owed page is not sent: the page's state will carry it.
  session.owe_pages({1});
  Patch live;
  live.origin = "a";
  live.seq = 3;
  live.lamport = 9;
  live.runs = {Run{1 * kPage + 8, 2}, Run{4 * kPage, 1}};
  live.bytes = {1, 2, 3};
  Patch kept;
  session.cut_live_patch(live, kPage, kept);
  REQUIRE(kept.runs.size() == 1);
  CHECK(kept.runs[0].offset == 4 * kPage);
}

}  // namespace wmd::proto
