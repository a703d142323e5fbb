#include "proto/catchup.hpp"

#include <doctest/doctest.h>
#include <algorithm>

namespace wmd::proto {
namespace {
constexpr std::uint64_t kZero = 0xdead;
}

TEST_CASE("pages we hold and the peer lacks are sent") {
  const std::vector<PageDigest> ours{{1, 11}, {5, 55}};
  const std::vector<PageDigest> theirs{};
  CHECK(plan_pages_to_send(ours, theirs, kZero) == std::vector<std::uint64_t>{1, 5});
}

TEST_CASE("pages with equal digests are not sent") {
  const std::vector<PageDigest> ours{{1, 11}, {5, 55}};
  const std::vector<PageDigest> theirs{{1, 11}, {5, 55}};
  CHECK(plan_pages_to_send(ours, theirs, kZero).empty());
}

TEST_CASE("pages that differ are sent, pages only the peer holds are not") {
  const std::vector<PageDigest> ours{{1, 11}, {5, 55}, {7, 77}};
  const std::vector<PageDigest> theirs{{1, 12}, {3, 33}, {7, 77}, {9, 99}};
  CHECK(plan_pages_to_send(ours, theirs, kZero) == std::vector<std::uint64_t>{1, 5});
}

TEST_CASE("zero pages on our side are never sent, whatever the peer has") {
  const std::vector<PageDigest> ours{{2, kZero}};
  const std::vector<PageDigest> theirs{{2, 22}};
  CHECK(plan_pages_to_send(ours, theirs, kZero).empty());
}

TEST_CASE("a peer's explicit zero digest counts like a missing page") {
  const std::vector<PageDigest> ours{{2, 22}};
  const std::vector<PageDigest> theirs{{2, kZero}};
  CHECK(plan_pages_to_send(ours, theirs, kZero) == std::vector<std::uint64_t>{2});
}

TEST_CASE("unsorted inputs give a sorted plan") {
  const std::vector<PageDigest> ours{{9, 1}, {3, 1}, {6, 1}};
  const std::vector<PageDigest> theirs{{6, 1}};
  CHECK(plan_pages_to_send(ours, theirs, kZero) == std::vector<std::uint64_t>{3, 9});
}

TEST_CASE("digests are chunked to fit frames, the last chunk flagged") {
  std::vector<PageDigest> digests;
  for (std::uint64_t i = 0; i < 10; ++i) digests.push_back({i, i + 100});
  const auto chunks = chunk_digests(65536, digests, 4, true);
  REQUIRE(chunks.size() == 3);
  CHECK(chunks[0].digests.size() == 4);
  CHECK(chunks[2].digests.size() == 2);
  CHECK_FALSE(chunks[0].last);
  CHECK_FALSE(chunks[1].last);
  CHECK(chunks[2].last);
  for (const auto& c : chunks) {
    CHECK(c.reply_requested);
    CHECK(c.size_bytes == 65536);
  }
}

TEST_CASE("no digests still make one last chunk, so the peer answers") {
  const auto chunks = chunk_digests(8192, {}, 100, false);
  REQUIRE(chunks.size() == 1);
  CHECK(chunks[0].last);
  CHECK(chunks[0].digests.empty());
}

TEST_CASE("a default frame holds many digests, a tiny one at least one") {
  CHECK(digests_per_frame(16u << 20) > 100000);
  CHECK(digests_per_frame(10) == 1);
}

TEST_CASE("the accumulator returns the whole set at the last chunk and starts over") {
  DigestAccumulator acc;
  proto::Digests first{4096 * 8, false, false, {{1, 10}, {2, 20}}};
  proto::Digests last{4096 * 8, true, true, {{3, 30}}};
  CHECK_FALSE(acc.add(first).has_value());
  auto set = acc.add(last);
  REQUIRE(set.has_value());
  CHECK(set->digests.size() == 3);
  CHECK(set->reply_requested);
  CHECK(set->size_bytes == 4096 * 8);
  CHECK(acc.pending_entries() == 0);
}

TEST_CASE("an interrupted round mixed with a new one keeps the newest digest per page") {
  DigestAccumulator acc;
  CHECK_FALSE(acc.add(proto::Digests{0, false, false, {{1, 10}, {2, 20}}}).has_value());
  auto set = acc.add(proto::Digests{0, true, false, {{1, 11}}});
  REQUIRE(set.has_value());
  REQUIRE(set->digests.size() == 2);
  CHECK(set->digests[0] == PageDigest{1, 11});
  CHECK(set->digests[1] == PageDigest{2, 20});
}

TEST_CASE(
    "a peer repeating non-last digest chunks forever cannot grow the accumulator without bound") {
  // Each chunk is valid on its own (indices increasing, below the maximum); only their
  // repetition is hostile. Memory must stay proportional to the distinct pages named.
  DigestAccumulator acc;
  proto::Digests chunk{0, false, false, {}};
  for (std::uint64_t page = 0; page < 100; ++page) chunk.digests.push_back({page, page});
  std::size_t most_pending = 0;
  for (int i = 0; i < 10000; ++i) {
    chunk.digests[0].digest = static_cast<std::uint64_t>(i);
    CHECK_FALSE(acc.add(chunk).has_value());
    most_pending = std::max(most_pending, acc.pending_entries());
  }
  CHECK(most_pending <= 2 * 4096 + chunk.digests.size());
  auto set = acc.add(proto::Digests{0, true, false, {{200, 7}}});
  REQUIRE(set.has_value());
  REQUIRE(set->digests.size() == 101);
  CHECK(set->digests[0] == PageDigest{0, 9999});  // the latest chunk still wins
  CHECK(set->digests[100] == PageDigest{200, 7});
}

TEST_CASE("the page-state size estimate covers bytes and versions") {
  PageState state;
  state.bytes.resize(8192);
  state.versions.push_back({0, 8192, {3, "peer"}});
  CHECK(page_state_wire_bytes(state) >= 8192 + 4 + 8);
}

}  // namespace wmd::proto

namespace wmd::proto {

TEST_CASE("a live patch loses exactly its parts on pages the peer's round will still export") {
  constexpr std::uint32_t kPage = 100;
  Patch patch;
  patch.origin = "a";
  patch.seq = 4;
  patch.lamport = 9;
  // Run 1 spans pages 0-2 (offsets 50..249), run 2 is inside page 4.
  patch.runs = {Run{50, 200}, Run{410, 20}};
  for (int i = 0; i < 220; ++i) patch.bytes.push_back(static_cast<std::uint8_t>(i));
  Patch kept;

  auto among = [](std::vector<std::uint64_t> pages) {
    return [pages](std::uint64_t page) {
      return std::find(pages.begin(), pages.end(), page) != pages.end();
    };
  };
  CHECK(cut_pending_pages(patch, kPage, among({3, 7}), kept) == PatchCut::whole);
  CHECK(cut_pending_pages(patch, kPage, among({}), kept) == PatchCut::whole);
  CHECK(cut_pending_pages(patch, kPage, among({0, 1, 2, 4}), kept) == PatchCut::none);
  REQUIRE(cut_pending_pages(patch, kPage, among({1, 4}), kept) == PatchCut::part);
  CHECK(kept.origin == "a");
  CHECK(kept.seq == 4);
  CHECK(kept.lamport == 9);
  CHECK(kept.runs == std::vector<Run>{Run{50, 50}, Run{200, 50}});
  std::vector<std::uint8_t> expected;
  for (int i = 0; i < 50; ++i) expected.push_back(static_cast<std::uint8_t>(i));
  for (int i = 150; i < 200; ++i) expected.push_back(static_cast<std::uint8_t>(i));
  CHECK(kept.bytes == expected);
}

TEST_CASE("every state of a page fits a frame unless pages are large or frames small") {
  CHECK(every_page_state_fits(8192, 16u << 20));
  CHECK(every_page_state_fits(65536, 16u << 20));
  CHECK_FALSE(every_page_state_fits(1u << 20, 16u << 20));
  CHECK_FALSE(every_page_state_fits(4096, 64u << 10));
  CHECK_FALSE(every_page_state_fits(4096, 4096));
}

}  // namespace wmd::proto
