// Persistent state: resuming over existing storage, repairing torn pages, reclaiming leaked
// blocks, refusing foreign state, and pool exhaustion.
#include <doctest/doctest.h>

#include <cstring>

#include "engine/state_layout.hpp"
#include "tests/unit/engine/engine_test_support.hpp"

namespace wmd::test {
namespace {

using engine_detail::PageRecord;
using engine_detail::StateHeader;
using engine_detail::StateLayout;
using engine_detail::VersionBlock;

StateLayout layout_of(const EngineConfig& c) {
  const std::uint64_t pages = (c.max_size_bytes + c.page_size_bytes - 1) / c.page_size_bytes;
  return StateLayout::compute(pages, c.page_size_bytes, c.max_peers, c.version_pool_blocks);
}
StateHeader& header_of(Replica& r) {
  return *reinterpret_cast<StateHeader*>(r.state.data());
}
PageRecord& record_of(Replica& r, std::uint64_t page) {
  return reinterpret_cast<PageRecord*>(r.state.data() + layout_of(r.config).records_offset)[page];
}
VersionBlock& block_of(Replica& r, std::uint32_t index) {
  return reinterpret_cast<VersionBlock*>(r.state.data() + layout_of(r.config).pool_offset)[index];
}

TEST_CASE("a second engine over the same storage resumes lamport, seq, clock and versions") {
  Replica r(small_config("a"), 16384);
  r.write(10, {1, 2, 3});
  REQUIRE(r.engine->scan().size() == 1);
  REQUIRE(r.engine->apply(make_patch("b", 4, 9, {{5000, {7}}})).ok());
  REQUIRE(r.engine->resize(20000).ok());
  const auto digests = r.engine->nonzero_digests();
  const auto versions = r.engine->page_versions(0);
  const auto clock = r.engine->vector_clock();
  r.open(r.engine->size_bytes());
  CHECK(r.engine->recovery_stats().resumed);
  CHECK(r.engine->recovery_stats().clean_shutdown);
  CHECK(r.engine->recovery_stats().torn_pages == 0);
  CHECK(r.engine->recovery_stats().leaked_blocks == 0);
  CHECK(r.engine->size_bytes() == 20480);
  CHECK(r.engine->lamport() == 9);
  CHECK(r.engine->local_seq() == 1);
  CHECK(r.engine->vector_clock() == clock);
  CHECK(r.engine->nonzero_digests() == digests);
  CHECK(r.engine->page_versions(0) == versions);
  CHECK(r.engine->scan().empty());
  r.write(100, {4});
  auto patches = r.engine->scan();
  REQUIRE(patches.size() == 1);
  CHECK(patches[0].lamport == 10);
  CHECK(patches[0].seq == 2);
}

TEST_CASE("writes made while no engine ran are found by the next scan after resuming") {
  Replica r(small_config("a"), 16384);
  r.write(10, {1});
  REQUIRE(r.engine->scan().size() == 1);
  r.engine.reset();  // the daemon is down...
  r.write(10, {2});  // ...while the runtime keeps writing
  r.write(9000, {3});
  r.open(16384);
  auto patches = r.engine->scan();
  REQUIRE(patches.size() == 1);
  CHECK(patches[0].runs == std::vector<Run>{{10, 1}, {9000, 1}});
  CHECK(patches[0].bytes == std::vector<std::uint8_t>{2, 3});
}

TEST_CASE("resuming asks GrowFn for the stored size when the memory given is smaller") {
  Replica r(small_config("a"), 16384);
  REQUIRE(r.engine->resize(32768).ok());
  r.open(4096);
  CHECK(r.engine->size_bytes() == 32768);
}

TEST_CASE("an engine killed without its destructor is reported as an unclean shutdown") {
  Replica r(small_config("a"), 16384);
  r.engine.reset();
  header_of(r).clean_shutdown = 0;  // what a SIGKILL leaves: the destructor never ran
  r.open(16384);
  CHECK(r.engine->recovery_stats().resumed);
  CHECK_FALSE(r.engine->recovery_stats().clean_shutdown);
}

TEST_CASE("a torn page (odd counter) gets its hash and digest recomputed from the shadow") {
  Replica r(small_config("a"), 16384);
  r.write(4096 + 7, {1, 2});
  REQUIRE(r.engine->scan().size() == 1);
  const auto digest = r.engine->page_digest(1);
  r.engine.reset();
  PageRecord& record = record_of(r, 1);
  record.update_counter |= 1;
  record.hash_x ^= 0xdead;  // what a kill between the shadow and the record update leaves
  record.digest_x ^= 0xbeef;
  r.open(16384);
  CHECK(r.engine->recovery_stats().torn_pages == 1);
  CHECK(r.engine->recovery_stats().corrupt_pages == 0);
  CHECK((record_of(r, 1).update_counter & 1) == 0);
  CHECK(r.engine->page_digest(1) == digest);
  CHECK(r.engine->scan().empty());
}

TEST_CASE("a torn page whose shadow missed part of a local round is re-absorbed by the scan") {
  Replica r(small_config("a"), 16384);
  r.write(100, {5, 5, 5});
  REQUIRE(r.engine->scan().size() == 1);
  r.engine.reset();
  // Versions were published but the shadow copy was interrupted: the shadow lacks byte 102.
  const StateLayout l = layout_of(r.config);
  r.state[l.shadow_offset + 102] = 0;
  record_of(r, 0).update_counter |= 1;
  r.open(16384);
  CHECK(r.engine->recovery_stats().torn_pages == 1);
  auto patches = r.engine->scan();
  REQUIRE(patches.size() == 1);
  CHECK(patches[0].runs == std::vector<Run>{{102, 1}});
}

TEST_CASE("a corrupt version block resets its page, whose bytes the next scan re-absorbs") {
  Replica r(small_config("a"), 16384), peer(small_config("b"), 16384);
  r.write(10, {1, 2, 3});
  for (const auto& p : r.engine->scan()) REQUIRE(peer.engine->apply(p).ok());
  r.engine.reset();
  const std::uint32_t head = record_of(r, 0).version_head;
  REQUIRE(head != 0);
  block_of(r, head).entries[1].start = 5000;  // past the page end
  r.open(16384);
  CHECK(r.engine->recovery_stats().corrupt_pages == 1);
  CHECK(r.engine->recovery_stats().leaked_blocks == 1);  // its block was reclaimed
  CHECK(r.engine->page_versions(0) == std::vector<VersionRun>{{0, 4096, {}}});
  auto patches = r.engine->scan();  // the bytes are still in memory: stamped anew
  REQUIRE(patches.size() == 1);
  CHECK(patches[0].runs == std::vector<Run>{{10, 3}});
  REQUIRE(peer.engine->apply(patches[0]).ok());
  CHECK(peer.engine->page_digest(0) == r.engine->page_digest(0));
  CHECK(peer.contents() == r.contents());
}

TEST_CASE("blocks allocated but never published are reclaimed and counted as leaked") {
  Replica r(small_config("a"), 16384);
  r.write(10, {1});
  REQUIRE(r.engine->scan().size() == 1);
  r.engine.reset();
  StateHeader& h = header_of(r);
  VersionBlock& stray = block_of(r, h.pool_high_water);  // as if killed before publishing
  stray.state = engine_detail::kBlockInUse;
  stray.count = 1;
  ++h.pool_high_water;
  r.open(16384);
  CHECK(r.engine->recovery_stats().leaked_blocks == 1);
  CHECK(r.engine->recovery_stats().corrupt_pages == 0);
  CHECK(r.engine->scan().empty());
}

TEST_CASE("foreign or mismatched state storage is refused") {
  Replica r(small_config("a"), 16384);
  r.engine.reset();
  auto try_open = [&](EngineConfig c) {
    return Engine::create(c, std::span(r.memory.data(), 16384), std::span(r.state), r.grower())
        .error();
  };
  CHECK(try_open(small_config("other")) == make_error_code(errc::invalid_config));
  CHECK(try_open(small_config("a", 32 * 1024)) == make_error_code(errc::invalid_config));
  auto c = small_config("a");
  c.page_size_bytes = 8192;
  CHECK(try_open(c) == make_error_code(errc::page_size_mismatch));
  header_of(r).layout_version = 99;
  CHECK(try_open(small_config("a")) == make_error_code(errc::bad_layout_version));
  header_of(r).layout_version = engine_detail::kLayoutVersion;
  header_of(r).magic ^= 1;
  CHECK(try_open(small_config("a")) == make_error_code(errc::bad_magic));
  header_of(r).magic ^= 1;
  header_of(r).size_bytes = 5000;  // not a page multiple
  CHECK(try_open(small_config("a")) == make_error_code(errc::state_corrupt));
}

TEST_CASE("an exhausted version pool refuses a patch with nothing applied") {
  auto c = small_config("a");
  c.version_pool_blocks = 2;   // 30 runs in all
  c.max_runs_per_page = 4096;  // the pool, not the run limit, is what this exercises
  Replica r(c, 16384);
  Patch many = make_patch("b", 1, 1, {});
  for (std::uint64_t k = 0; k < 40; ++k) {  // 40 separate bytes: 81 runs on one page
    many.runs.push_back(Run{k * 2 + 1, 1});
    many.bytes.push_back(9);
  }
  auto result = r.engine->apply(many);
  CHECK(result.error() == make_error_code(errc::pool_exhausted));
  CHECK(r.contents() == std::vector<std::uint8_t>(16384, 0));
  CHECK(r.engine->nonzero_digests().empty());
  CHECK(r.engine->lamport() == 0);
  // Something that fits still applies, and the state stays usable.
  REQUIRE(r.engine->apply(make_patch("b", 2, 2, {{0, filled(100, 4)}})).ok());
  CHECK(r.read(0, 100) == filled(100, 4));
}

TEST_CASE("a scan with the pool exhausted defers pages and finds them again later") {
  auto c = small_config("a");
  c.version_pool_blocks = 2;
  c.max_runs_per_page = 4096;  // the pool, not the run limit, is what this exercises
  Replica r(c, 16384);
  for (std::uint64_t k = 0; k < 40; ++k) r.write(k * 2 + 1, {1});  // page 0 needs 6 blocks
  r.write(4096, {1});                                              // page 1 needs 1
  ScanStats stats;
  auto patches = r.engine->scan(&stats);
  CHECK(stats.pages_deferred == 1);
  CHECK(stats.pages_changed == 1);
  REQUIRE(patches.size() == 1);
  CHECK(patches[0].runs == std::vector<Run>{{4096, 1}});
  CHECK(r.engine->find_changed_pages(0, 4) == std::vector<std::uint64_t>{0});
  // Resuming rebuilds the free list the same way.
  r.open(16384);
  CHECK(r.engine->find_changed_pages(0, 4) == std::vector<std::uint64_t>{0});
}

}  // namespace
}  // namespace wmd::test
