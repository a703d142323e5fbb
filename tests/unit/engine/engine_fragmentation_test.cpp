// Fragmentation bounds: no peer id may own more than its share of the version pool (its page
// state or patch is refused whole, so the pool never runs out for everyone), and an optional
// per-page run limit refuses pages more fragmented than an operator allows.
#include <doctest/doctest.h>

#include "tests/unit/engine/engine_test_support.hpp"

namespace wmd::test {
namespace {

constexpr std::uint32_t kLimit = 16;

EngineConfig limited_config(const std::string& peer) {
  EngineConfig c = small_config(peer);
  c.max_runs_per_page = kLimit;
  return c;
}

// A page state of `runs` one-byte runs alternating between two peers, then the rest.
PageState interleaved_state(std::uint64_t page, std::uint32_t runs) {
  PageState s;
  s.page_index = page;
  s.bytes.assign(4096, 7);
  for (std::uint32_t k = 0; k < runs; ++k) {
    s.versions.push_back(VersionRun{k, k + 1, Timestamp{5, k % 2 ? "x" : "y"}});
  }
  s.versions.push_back(VersionRun{runs, 4096, Timestamp{6, "x"}});
  return s;
}

TEST_CASE("a page state or a patch over the per-page run limit is refused whole") {
  Replica r(limited_config("a"), 8192);
  CHECK(r.engine->merge_page(interleaved_state(0, kLimit)).error() ==
        make_error_code(errc::too_fragmented));
  Patch p = make_patch("x", 1, 5, {});
  for (std::uint64_t k = 0; k <= kLimit; ++k) {
    p.runs.push_back(Run{k * 2, 1});
    p.bytes.push_back(1);
  }
  CHECK(r.engine->apply(p).error() == make_error_code(errc::too_fragmented));
  CHECK(r.engine->nonzero_digests().empty());
  CHECK(r.engine->merge_page(interleaved_state(0, kLimit - 1)).ok());
}

TEST_CASE("one peer id cannot take more than its share of the version pool") {
  auto c = small_config("a");
  c.max_runs_per_peer = 100;
  Replica r(c, 65536);
  // Page states of one-byte runs: the finding's attack, one page at a time.
  auto fragmented = [](std::uint64_t page, std::uint32_t runs) {
    PageState s;
    s.page_index = page;
    s.bytes.assign(4096, 7);
    for (std::uint32_t k = 0; k < runs; ++k) {
      s.versions.push_back(VersionRun{k, k + 1, Timestamp{5 + k % 2, "mallory"}});
    }
    s.versions.push_back(VersionRun{runs, 4096, Timestamp{9, "mallory"}});
    return s;
  };
  REQUIRE(r.engine->merge_page(fragmented(0, 59)).ok());  // 60 runs
  CHECK(r.engine->merge_page(fragmented(1, 59)).error() ==
        make_error_code(errc::pool_share_exceeded));
  CHECK(r.engine->page_versions(1).size() == 1);  // nothing merged
  // Merging over its own runs does not count them twice, and other ids keep their room.
  REQUIRE(r.engine->merge_page(fragmented(0, 70)).ok());
  CHECK(r.engine->page_versions(0).size() == 60);
  REQUIRE(r.engine->merge_page(interleaved_state(2, 15)).ok());
  Patch p = make_patch("mallory", 1, 20, {});
  for (std::uint64_t k = 0; k < 41; ++k) {  // 60 + 41 runs: one past the share
    p.runs.push_back(Run{3 * 4096 + k * 2, 1});
    p.bytes.push_back(1);
  }
  CHECK(r.engine->apply(p).error() == make_error_code(errc::pool_share_exceeded));
  // Local writes are never refused.
  for (std::uint64_t k = 0; k < 200; ++k) r.write(4 * 4096 + k * 2, {1});
  CHECK(r.engine->scan().size() == 1);
}

}  // namespace
}  // namespace wmd::test
