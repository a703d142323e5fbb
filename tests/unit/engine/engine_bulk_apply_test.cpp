// Whole-page applies take a separate path (payload streamed to memory and shadow, hashed on
// the way); these tests pin it to the ordinary per-range path's results.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/engine/engine_test_support.hpp"

namespace wmd::test {
namespace {

std::vector<std::uint8_t> random_bytes(std::mt19937_64& rng, std::size_t n) {
  std::vector<std::uint8_t> bytes(n);
  for (auto& b : bytes) b = static_cast<std::uint8_t>(rng() | 1);  // no zero: one run per page
  return bytes;
}

TEST_CASE("whole-page applies leave the state that ordinary range applies and merges leave") {
  const std::uint64_t seed = 4242;
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  constexpr std::uint64_t kPage = 4096;
  constexpr std::uint64_t kSize = 8 * kPage;
  // One patch: page 0 from byte 100 (ranges), pages 1-5 whole (streamed), page 6 up to byte
  // 4000 (ranges).
  const auto payload = random_bytes(rng, 6 * kPage + 4000 - 100);
  const Patch bulk = make_patch("c", 1, 5, {{100, payload}});

  Replica whole(small_config("a", kSize), kSize);
  auto applied = whole.engine->apply(bulk);
  REQUIRE(applied.ok());
  CHECK(applied->bytes_written == payload.size());
  CHECK(applied->pages_touched == 7);

  // The same bytes and stamp, cut into runs that never cover a whole page: every page goes
  // through the ordinary copy and the hash of the shadow.
  Replica ranges(small_config("b", kSize), kSize);
  std::vector<std::pair<std::uint64_t, std::vector<std::uint8_t>>> pieces;
  for (std::uint64_t offset = 100; offset < 100 + payload.size();) {
    const std::uint64_t length = std::min<std::uint64_t>(kPage / 2, 100 + payload.size() - offset);
    pieces.push_back(
        {offset, std::vector<std::uint8_t>(payload.begin() + (offset - 100),
                                           payload.begin() + (offset - 100 + length))});
    offset += length;
  }
  std::uint64_t seq = 1;
  for (auto& piece : pieces) REQUIRE(ranges.engine->apply(make_patch("c", seq++, 5, {piece})).ok());

  // Compared before anything re-checks the pages (export would repair a wrong record).
  CHECK(whole.engine->find_changed_pages(0, kSize / kPage).empty());
  CHECK(whole.read(100, payload.size()) == payload);
  CHECK(whole.contents() == ranges.contents());
  std::vector<std::uint64_t> whole_digests;
  for (std::uint64_t page = 0; page < kSize / kPage; ++page) {
    CAPTURE(page);
    whole_digests.push_back(whole.engine->page_digest(page));
    CHECK(whole_digests.back() == ranges.engine->page_digest(page));
    CHECK(whole.engine->page_versions(page) == ranges.engine->page_versions(page));
  }

  // And each page merged from the bulk replica's exported state.
  Replica merged(small_config("d", kSize), kSize);
  for (std::uint64_t page = 0; page < kSize / kPage; ++page) {
    auto state = whole.engine->export_page(page);
    REQUIRE(state.ok());
    REQUIRE(merged.engine->merge_page(*state).ok());
  }

  CHECK(whole.contents() == merged.contents());
  for (std::uint64_t page = 0; page < kSize / kPage; ++page) {
    CAPTURE(page);
    CHECK(whole_digests[page] == merged.engine->page_digest(page));
  }
  // The stored hashes match the memory: nothing to echo back, on any of them.
  CHECK(whole.engine->scan().empty());
  CHECK(ranges.engine->scan().empty());
  CHECK(merged.engine->scan().empty());
  CHECK(whole.emitted.empty());
}

TEST_CASE("a local write after a whole-page apply is found by the next scan") {
  Replica r(small_config("a", 4 * 4096), 4 * 4096);
  std::mt19937_64 rng(99);
  REQUIRE(r.engine->apply(make_patch("c", 1, 1, {{4096, random_bytes(rng, 2 * 4096)}})).ok());
  CHECK(r.engine->find_changed_pages(0, 4).empty());
  r.write(4096 + 4095, {0});
  const auto patches = r.engine->scan();
  REQUIRE(patches.size() == 1);
  REQUIRE(patches[0].runs.size() == 1);
  CHECK(patches[0].runs[0].offset == 4096 + 4095);
  CHECK(patches[0].runs[0].length == 1);
}

TEST_CASE("a merge the remote wins on every byte absorbs a pending local write first") {
  constexpr std::uint64_t kPage = 4096;
  // The source's page carries lamport 3 on every byte (each round rewrites all of them):
  // above anything the destination's round could take.
  Replica source(small_config("a", 2 * kPage), 2 * kPage);
  for (int round = 1; round <= 3; ++round) {
    source.write(kPage, std::vector<std::uint8_t>(kPage, static_cast<std::uint8_t>(round)));
    REQUIRE(source.engine->scan().size() == 1);
  }
  auto state = source.engine->export_page(1);
  REQUIRE(state.ok());
  REQUIRE(state->versions.size() == 1);

  Replica dest(small_config("b", 2 * kPage), 2 * kPage);
  dest.write(kPage + 10, {7});  // not scanned yet
  auto merged = dest.engine->merge_page(*state);
  REQUIRE(merged.ok());
  CHECK(merged->absorbed_local);
  CHECK(merged->bytes_taken == kPage);
  REQUIRE(dest.emitted.size() == 1);  // the local write was sent before it was overwritten
  CHECK(dest.emitted[0].runs.size() == 1);
  CHECK(dest.emitted[0].runs[0].offset == kPage + 10);

  CHECK(dest.read(kPage, kPage) == source.read(kPage, kPage));
  CHECK(dest.engine->page_versions(1) == source.engine->page_versions(1));
  CHECK(dest.engine->page_digest(1) == source.engine->page_digest(1));
  // The stored hash is the merged bytes': nothing to echo back.
  CHECK(dest.engine->find_changed_pages(0, 2).empty());
  CHECK(dest.engine->scan().empty());
}

TEST_CASE("merge still refuses a bad peer id after merging pages from a good one") {
  Replica r(small_config("a", 4 * 4096), 4 * 4096);
  PageState good;
  good.page_index = 0;
  good.bytes.assign(4096, 1);
  good.versions = {{0, 4096, {1, "b"}}};
  REQUIRE(r.engine->merge_page(good).ok());  // "b" is now the last peer merge_page interned
  for (const std::string& bad_id :
       std::vector<std::string>{"", "b ", std::string(kMaxPeerIdBytes + 1, 'b')}) {
    CAPTURE(bad_id);
    PageState bad = good;
    bad.page_index = 1;
    bad.versions = {{0, 2048, {2, "b"}}, {2048, 4096, {2, bad_id}}};
    CHECK(r.engine->merge_page(bad).error() == make_error_code(errc::invalid_peer_id));
  }
  CHECK(r.engine->page_digest(1) == r.engine->zero_page_digest());
  good.page_index = 2;
  good.versions = {{0, 4096, {2, "b"}}};
  REQUIRE(r.engine->merge_page(good).ok());
  CHECK(r.engine->page_versions(2) == good.versions);
}

}  // namespace
}  // namespace wmd::test
