// The persistent peer table under hostile input: only ids that end up on a stored version run
// take a slot, so refused or useless messages never keep a legitimate new peer out.
#include <doctest/doctest.h>

#include <string>
#include <tuple>
#include <vector>

#include "tests/unit/engine/engine_test_support.hpp"

namespace wmd::test {
namespace {

// A table with room for the own id plus `others` more.
EngineConfig table_config(std::uint32_t others) {
  auto c = small_config("a");
  c.max_peers = 1 + others;
  return c;
}

// A page state whose versions are `runs` (start, end, lamport, peer), bytes all `fill`.
PageState page_state(
    std::uint64_t page, std::uint8_t fill,
    std::vector<std::tuple<std::uint32_t, std::uint32_t, std::uint64_t, std::string>> runs) {
  PageState s;
  s.page_index = page;
  s.bytes.assign(4096, fill);
  for (auto& [start, end, lamport, peer] : runs) {
    s.versions.push_back(VersionRun{start, end, Timestamp{lamport, peer}});
  }
  return s;
}

// A made-up peer id: prefix then n.
std::string made_up_id(char prefix, int n) {
  std::string id(1, prefix);
  id += std::to_string(n);
  return id;
}

// A patch of 40 separate bytes on page 0: more version runs than a 2-block pool holds.
Patch fragmenting_patch(const std::string& origin) {
  Patch p = make_patch(origin, 1, 1, {});
  for (std::uint64_t k = 0; k < 40; ++k) {
    p.runs.push_back(Run{k * 2 + 1, 1});
    p.bytes.push_back(9);
  }
  return p;
}

TEST_CASE("a patch refused for a full version pool takes no peer table slot") {
  auto c = table_config(1);
  c.version_pool_blocks = 2;
  c.max_runs_per_page = 4096;  // the pool, not the run limit, is what this exercises
  Replica r(c, 16384);
  CHECK(r.engine->apply(fragmenting_patch("x")).error() == make_error_code(errc::pool_exhausted));
  CHECK(r.engine->apply(fragmenting_patch("y")).error() == make_error_code(errc::pool_exhausted));
  // The one free slot is still there for a real peer.
  REQUIRE(r.engine->apply(make_patch("b", 1, 2, {{0, filled(100, 4)}})).ok());
  CHECK(r.read(0, 100) == filled(100, 4));
  CHECK(r.engine->vector_clock() == VectorClock{{"b", 1}});
}

TEST_CASE("a page state refused for a full table interns none of its ids") {
  Replica r(table_config(2), 16384);
  const auto hostile = page_state(0, 7, {{0, 10, 1, "x"}, {10, 20, 1, "y"}, {20, 4096, 1, "z"}});
  CHECK(r.engine->merge_page(hostile).error() == make_error_code(errc::peer_table_full));
  CHECK(r.engine->nonzero_digests().empty());
  CHECK(r.read(0, 4096) == filled(4096, 0));
  // Both free slots are still there.
  REQUIRE(r.engine->apply(make_patch("b", 1, 2, {{0, {1}}})).ok());
  REQUIRE(r.engine->apply(make_patch("c", 1, 3, {{1, {2}}})).ok());
  CHECK(r.read(0, 2) == std::vector<std::uint8_t>{1, 2});
}

TEST_CASE("a page state past the size that a full table refuses does not grow the memory") {
  Replica r(table_config(1), 8192);
  const auto hostile = page_state(5, 7, {{0, 10, 1, "x"}, {10, 4096, 1, "y"}});
  CHECK(r.engine->merge_page(hostile).error() == make_error_code(errc::peer_table_full));
  CHECK(r.engine->size_bytes() == 8192);
  CHECK(r.growths.empty());
  CHECK(r.engine->apply(make_patch("b", 1, 2, {{0, {1}}})).ok());
}

TEST_CASE(
    "a patch from a new origin past the size is refused before growing when the table is "
    "full") {
  Replica r(table_config(1), 8192);
  REQUIRE(r.engine->apply(make_patch("b", 1, 1, {{0, {1}}})).ok());
  CHECK(r.engine->apply(make_patch("c", 1, 2, {{20000, {2}}})).error() ==
        make_error_code(errc::peer_table_full));
  CHECK(r.engine->size_bytes() == 8192);
  CHECK(r.growths.empty());
}

TEST_CASE("a patch whose every byte loses to newer versions takes no peer table slot") {
  Replica r(table_config(2), 16384);
  REQUIRE(r.engine->apply(make_patch("b", 1, 10, {{0, filled(8, 1)}})).ok());
  for (int i = 0; i < 50; ++i) {  // made-up origins, each older than what is stored
    auto stale = r.engine->apply(make_patch(made_up_id('x', i), 1, 5, {{0, filled(8, 2)}}));
    REQUIRE(stale.ok());
    CHECK(stale->bytes_written == 0);
  }
  CHECK(r.read(0, 8) == filled(8, 1));
  CHECK(r.engine->vector_clock() == VectorClock{{"b", 1}});  // no slot, no clock entry
  REQUIRE(r.engine->apply(make_patch("c", 1, 11, {{100, {3}}})).ok());
  CHECK(r.read(100, 1) == std::vector<std::uint8_t>{3});
  CHECK(r.engine->vector_clock() == VectorClock{{"b", 1}, {"c", 1}});
}

TEST_CASE("a useless patch from a known origin still raises its clock entry") {
  Replica r(table_config(2), 16384);
  REQUIRE(r.engine->apply(make_patch("c", 1, 10, {{0, {1}}})).ok());
  REQUIRE(r.engine->apply(make_patch("b", 1, 1, {{100, {1}}})).ok());
  auto stale = r.engine->apply(make_patch("b", 2, 2, {{0, {2}}}));
  REQUIRE(stale.ok());
  CHECK(stale->bytes_written == 0);
  CHECK(r.engine->vector_clock() == VectorClock{{"b", 2}, {"c", 1}});
}

TEST_CASE("a page state whose new ids all lose takes no peer table slot") {
  Replica r(table_config(2), 16384);
  REQUIRE(r.engine->apply(make_patch("b", 1, 10, {{0, filled(4096, 1)}})).ok());
  const auto before = r.engine->page_digest(0);
  for (int i = 0; i < 20; ++i) {
    const auto stale =
        page_state(0, 9, {{0, 2048, 3, made_up_id('x', i)}, {2048, 4096, 4, made_up_id('y', i)}});
    auto merged = r.engine->merge_page(stale);
    REQUIRE(merged.ok());
    CHECK(merged->bytes_taken == 0);
  }
  CHECK(r.engine->page_digest(0) == before);
  REQUIRE(r.engine->apply(make_patch("c", 1, 11, {{5000, {3}}})).ok());
  CHECK(r.read(5000, 1) == std::vector<std::uint8_t>{3});
}

TEST_CASE("a page state interns only the ids that win bytes, and converges with its sender") {
  // Replica s holds page 0 as: [0, 100) x@5, [100, 4096) y@3 (built by merging that state).
  // Replica r holds [0, 100) b@10, so only y wins there; x must not take r's last slot.
  const auto state = page_state(0, 6, {{0, 100, 5, "x"}, {100, 4096, 3, "y"}});
  Replica r(table_config(3), 16384);
  REQUIRE(r.engine->apply(make_patch("b", 1, 10, {{0, filled(100, 1)}})).ok());
  auto merged = r.engine->merge_page(state);
  REQUIRE(merged.ok());
  CHECK(merged->bytes_taken == 3996);
  CHECK(r.engine->page_versions(0) ==
        std::vector<VersionRun>{{0, 100, {10, "b"}}, {100, 4096, {3, "y"}}});
  CHECK(r.read(0, 100) == filled(100, 1));
  CHECK(r.read(100, 3996) == filled(3996, 6));
  // The last slot is still free for a real peer.
  REQUIRE(r.engine->apply(make_patch("c", 1, 11, {{5000, {3}}})).ok());

  // The sender side reaches the same page: equal versions give equal digests, whatever refs
  // each replica gave the ids.
  Replica s(table_config(4), 16384);
  REQUIRE(s.engine->merge_page(state).ok());
  REQUIRE(s.engine->apply(make_patch("b", 1, 10, {{0, filled(100, 1)}})).ok());
  CHECK(s.engine->page_versions(0) == r.engine->page_versions(0));
  CHECK(s.engine->page_digest(0) == r.engine->page_digest(0));
}

TEST_CASE("a peer table interned lazily survives a restart") {
  Replica r(table_config(3), 16384);
  REQUIRE(r.engine->apply(make_patch("b", 1, 10, {{0, filled(100, 1)}})).ok());
  REQUIRE(r.engine->merge_page(page_state(0, 6, {{0, 100, 5, "x"}, {100, 4096, 3, "y"}})).ok());
  const auto versions = r.engine->page_versions(0);
  const auto digest = r.engine->page_digest(0);
  r.open(16384);
  CHECK(r.engine->page_versions(0) == versions);
  CHECK(r.engine->page_digest(0) == digest);
  CHECK(r.engine->apply(make_patch("c", 1, 11, {{5000, {3}}})).ok());
  CHECK(r.engine->apply(make_patch("d", 1, 12, {{5001, {3}}})).error() ==
        make_error_code(errc::peer_table_full));
}

TEST_CASE("a patch whose bytes all lose to a local write absorbed during apply takes no slot") {
  auto config = small_config("a");
  config.max_peers = 1;  // only our own id: the table is full
  Replica r(config, 16384);
  r.write(100, {1});
  r.engine->scan();          // lamport 1
  r.write(0, filled(8, 5));  // pending: absorbed at (2, a), beating the patch's (1, b)
  auto applied = r.engine->apply(make_patch("b", 1, 1, {{0, filled(8, 9)}}));
  REQUIRE_MESSAGE(applied.ok(), applied.error().message());
  CHECK(applied->bytes_written == 0);
  CHECK(applied->pages_absorbed == 1);
  CHECK(r.read(0, 8) == filled(8, 5));
  CHECK(r.engine->vector_clock().count("b") == 0);
}

TEST_CASE("a made-up id whose bytes are all overwritten gives its slot back, across restarts") {
  Replica r(table_config(2), 16384);
  // Two ghosts fill the table, 8 bytes each (the peer-table exhaustion attack).
  REQUIRE(r.engine->apply(make_patch("ghost-1", 1, 5, {{0, filled(8, 1)}})).ok());
  REQUIRE(r.engine->apply(make_patch("ghost-2", 1, 5, {{4096, filled(8, 2)}})).ok());
  CHECK(r.engine->apply(make_patch("real", 1, 6, {{9000, {3}}})).error() ==
        make_error_code(errc::peer_table_full));
  // A local write overwrites ghost-1's bytes: its slot is free for the real peer.
  r.write(0, filled(8, 7));
  r.engine->scan();
  CHECK(r.engine->vector_clock().count("ghost-1") == 0);
  REQUIRE(r.engine->apply(make_patch("real", 1, 100, {{9000, {3}}})).ok());
  CHECK(r.engine->vector_clock().count("real") == 1);
  // A merge overwriting ghost-2's bytes frees its slot too, and the state resumes with it free.
  REQUIRE(r.engine->merge_page(page_state(1, 5, {{0, 4096, 200, "real"}})).ok());
  CHECK(r.engine->vector_clock().count("ghost-2") == 0);
  r.open(16384);
  REQUIRE(r.engine->apply(make_patch("newcomer", 1, 300, {{12288, {4}}})).ok());
  CHECK(r.engine->page_versions(1) == std::vector<VersionRun>{{0, 4096, Timestamp{200, "real"}}});
  CHECK(r.engine->page_versions(3).front().ts == Timestamp{300, "newcomer"});
  r.open(16384);
  CHECK(r.engine->recovery_stats().corrupt_pages == 0);
  CHECK(r.read(12288, 1) == std::vector<std::uint8_t>{4});
}

TEST_CASE("a slot freed by a kill between the last run going and the release is freed at resume") {
  // Interned, then no byte stored (a process killed there): the resume finds it owns nothing.
  Replica r(table_config(1), 16384);
  REQUIRE(r.engine->apply(make_patch("ghost", 1, 5, {{0, filled(8, 1)}})).ok());
  REQUIRE(r.engine->apply(make_patch("b", 1, 6, {{0, filled(8, 2)}})).error() ==
          make_error_code(errc::peer_table_full));
  r.write(0, filled(8, 9));
  r.open(16384);  // the ghost still owns its bytes in the stored state: kept
  CHECK(r.engine->vector_clock().count("ghost") == 1);
  r.engine->scan();  // now it owns none
  r.open(16384);
  REQUIRE(r.engine->apply(make_patch("b", 1, 60, {{100, {2}}})).ok());
}

TEST_CASE("with members configured, a run of any other id is refused whole") {
  auto c = table_config(8);
  c.members = {"b", "c"};
  Replica r(c, 16384);
  CHECK(r.engine->apply(make_patch("mallory", 1, 5, {{0, {1}}})).error() ==
        make_error_code(errc::not_a_member));
  CHECK(r.engine->merge_page(page_state(0, 1, {{0, 8, 5, "b"}, {8, 4096, 6, "mallory"}})).error() ==
        make_error_code(errc::not_a_member));
  CHECK(r.read(0, 1) == std::vector<std::uint8_t>{0});
  // Made-up ids cannot lock a member out: they never take a slot.
  for (int n = 0; n < 20; ++n) {
    CHECK_FALSE(r.engine->apply(make_patch(made_up_id('g', n), 1, 5, {{0, {1}}})).ok());
  }
  REQUIRE(r.engine->apply(make_patch("b", 1, 5, {{0, {1}}})).ok());
  REQUIRE(r.engine->merge_page(page_state(1, 2, {{0, 8, 5, "c"}, {8, 4096, 6, "a"}})).ok());
  CHECK(r.engine->page_versions(1).front().ts == Timestamp{5, "c"});
}

TEST_CASE("made-up ids cannot fill the reserve that the writes evicting them need") {
  Replica r(table_config(16), 16384);  // 17 slots, the last 1 reserved
  for (int n = 0; n < 15; ++n) {
    REQUIRE(
        r.engine->apply(make_patch(made_up_id('g', n), 1, 5, {{std::uint64_t(n) * 8, {1}}})).ok());
  }
  CHECK(r.engine->apply(make_patch("g99", 1, 5, {{4096, {1}}})).error() ==
        make_error_code(errc::peer_table_full));
  // A real peer that is new here, writing over every byte a ghost owns, takes the reserve...
  REQUIRE(r.engine->apply(make_patch("real", 1, 9, {{0, filled(8, 2)}})).ok());
  // ...and the ghost's slot comes back at once, so the reserve is free again.
  CHECK(r.engine->vector_clock().count("g0") == 0);
  REQUIRE(r.engine->merge_page(page_state(0, 3, {{0, 4096, 20, "other"}})).ok());
  CHECK(r.engine->page_versions(0) == std::vector<VersionRun>{{0, 4096, Timestamp{20, "other"}}});
  CHECK(r.engine->vector_clock().count("real") == 0);
}

}  // namespace
}  // namespace wmd::test
