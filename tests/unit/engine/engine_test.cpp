#include <doctest/doctest.h>

#include "tests/unit/engine/engine_test_support.hpp"

namespace wmd::test {
namespace {

TEST_CASE("configs with a bad page size, peer id or max size are refused") {
  auto c = small_config("a");
  for (std::uint32_t ps : {0u, 1000u, 2048u, 4097u, 12288u, 2u * 1024 * 1024}) {
    c.page_size_bytes = ps;
    CAPTURE(ps);
    CHECK(validate(c).error() == make_error_code(errc::invalid_page_size));
  }
  for (std::uint32_t ps : {4096u, 8192u, 1024u * 1024}) {
    c.page_size_bytes = ps;
    CHECK(validate(c).ok());
  }
  c = small_config("");
  CHECK(validate(c).error() == make_error_code(errc::invalid_peer_id));
  c = small_config("has space");
  CHECK(validate(c).error() == make_error_code(errc::invalid_peer_id));
  c = small_config(std::string(65, 'x'));
  CHECK(validate(c).error() == make_error_code(errc::invalid_peer_id));
  c = small_config("a", 0);
  CHECK(validate(c).error() == make_error_code(errc::invalid_config));
  c = small_config("a");
  c.max_patch_bytes = 0;
  CHECK(validate(c).error() == make_error_code(errc::invalid_config));
}

TEST_CASE("create refuses state storage smaller than required") {
  auto c = small_config("a");
  std::vector<std::uint8_t> memory(4096), state(100);
  auto r = Engine::create(c, memory, state, nullptr);
  CHECK(r.error() == make_error_code(errc::state_too_small));
}

TEST_CASE("a fresh engine rounds its size down to pages and the max size up") {
  auto c = small_config("a", 10000);
  Replica r(c, 9000);
  CHECK(r.engine->size_bytes() == 8192);
  CHECK(r.engine->page_count() == 2);
  CHECK(r.engine->max_size_bytes() == 12288);
  CHECK(r.engine->lamport() == 0);
  CHECK(r.engine->local_seq() == 0);
  CHECK_FALSE(r.engine->recovery_stats().resumed);
  CHECK(r.engine->nonzero_digests().empty());
  CHECK(r.engine->page_digest(0) == r.engine->zero_page_digest());
}

TEST_CASE("scan of untouched memory produces nothing") {
  Replica r(small_config("a"), 16384);
  ScanStats stats;
  CHECK(r.engine->scan(&stats).empty());
  CHECK(stats.pages_checked == 4);
  CHECK(stats.pages_changed == 0);
  CHECK(r.engine->lamport() == 0);
}

TEST_CASE("scan turns local writes into one round of exact runs, stamped with one timestamp") {
  Replica r(small_config("a"), 16384);
  r.write(10, {1, 2, 3});
  r.write(4096 + 100, {9});
  ScanStats stats;
  auto patches = r.engine->scan(&stats);
  REQUIRE(patches.size() == 1);
  const Patch& p = patches[0];
  CHECK(p.origin == "a");
  CHECK(p.seq == 1);
  CHECK(p.lamport == 1);
  CHECK(p.runs == std::vector<Run>{{10, 3}, {4196, 1}});
  CHECK(p.bytes == std::vector<std::uint8_t>{1, 2, 3, 9});
  CHECK(stats.pages_changed == 2);
  CHECK(stats.bytes_changed == 4);
  CHECK(r.emitted == patches);
  CHECK(r.engine->page_versions(0) ==
        std::vector<VersionRun>{{0, 10, {}}, {10, 13, {1, "a"}}, {13, 4096, {}}});
  CHECK(r.engine->vector_clock() == VectorClock{{"a", 1}});
  CHECK(r.engine->scan().empty());  // absorbed: nothing pending any more
}

TEST_CASE("diff runs never cross a page boundary") {
  Replica r(small_config("a"), 16384);
  r.write(4090, filled(12, 5));
  auto patches = r.engine->scan();
  REQUIRE(patches.size() == 1);
  CHECK(patches[0].runs == std::vector<Run>{{4090, 6}, {4096, 6}});
}

TEST_CASE("a round larger than max_patch_bytes is split into patches with one timestamp") {
  auto c = small_config("a");
  c.max_patch_bytes = 1000;
  Replica r(c, 16384);
  r.write(0, filled(2500, 7));
  r.write(8192, filled(10, 8));
  auto patches = r.engine->scan();
  REQUIRE(patches.size() == 3);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < patches.size(); ++i) {
    CHECK(patches[i].lamport == 1);
    CHECK(patches[i].seq == i + 1);
    CHECK(patches[i].bytes.size() <= 1000);
    total += patches[i].bytes.size();
  }
  CHECK(total == 2510);
  CHECK(patches[0].runs == std::vector<Run>{{0, 1000}});
  CHECK(patches[2].runs == std::vector<Run>{{2000, 500}, {8192, 10}});
  CHECK(r.engine->local_seq() == 3);
  CHECK(r.engine->vector_clock() == VectorClock{{"a", 3}});
}

TEST_CASE("max_merge_gap_bytes re-sends short unchanged gaps inside one run") {
  auto c = small_config("a");
  c.max_merge_gap_bytes = 4;
  Replica r(c, 16384);
  r.write(100, {1});
  r.write(103, {1});
  auto patches = r.engine->scan();
  REQUIRE(patches.size() == 1);
  CHECK(patches[0].runs == std::vector<Run>{{100, 4}});
  CHECK(patches[0].bytes == std::vector<std::uint8_t>{1, 0, 0, 1});
}

TEST_CASE("a local round takes lamport one above everything seen") {
  Replica r(small_config("a"), 16384);
  REQUIRE(r.engine->apply(make_patch("b", 1, 41, {{0, {1}}})).ok());
  CHECK(r.engine->lamport() == 41);
  r.write(200, {2});
  auto patches = r.engine->scan();
  REQUIRE(patches.size() == 1);
  CHECK(patches[0].lamport == 42);
  CHECK(r.engine->vector_clock() == VectorClock{{"a", 1}, {"b", 1}});
}

TEST_CASE("resize is grow-only, rounds up to pages and refuses more than the max") {
  Replica r(small_config("a", 64 * 1024), 8192);
  CHECK(r.engine->resize(10000).ok());
  CHECK(r.engine->size_bytes() == 12288);
  CHECK(r.growths == std::vector<std::uint64_t>{12288});
  CHECK(r.engine->resize(4096).ok());
  CHECK(r.engine->size_bytes() == 12288);
  CHECK(r.engine->resize(12288).ok());
  CHECK(r.growths.size() == 1);
  CHECK(r.engine->resize(64 * 1024 + 1).error() == make_error_code(errc::beyond_max_size));
  CHECK(r.engine->size_bytes() == 12288);
  CHECK(r.engine->resize(64 * 1024).ok());
  CHECK(r.engine->page_count() == 16);
}

TEST_CASE("invalid patches are refused whole, with nothing applied") {
  Replica r(small_config("a", 64 * 1024), 16384);
  const auto before = r.contents();
  auto check_refused = [&](const Patch& p, errc expected) {
    auto result = r.engine->apply(p);
    CHECK(result.error() == make_error_code(expected));
    CHECK(r.contents() == before);
    CHECK(r.engine->lamport() == 0);
    CHECK(r.engine->size_bytes() == 16384);
    CHECK(r.engine->nonzero_digests().empty());
  };
  check_refused(make_patch("", 1, 1, {{0, {1}}}), errc::invalid_peer_id);
  check_refused(make_patch("b c", 1, 1, {{0, {1}}}), errc::invalid_peer_id);
  check_refused(make_patch("b", 1, 0, {{0, {1}}}), errc::malformed);
  check_refused(make_patch("b", 0, 1, {{0, {1}}}), errc::malformed);
  check_refused(make_patch("b", 1, 1, {{10, {1, 2}}, {5, {1}}}), errc::malformed);   // unsorted
  check_refused(make_patch("b", 1, 1, {{10, {1, 2}}, {11, {1}}}), errc::malformed);  // overlap
  check_refused(make_patch("b", 1, 1, {{0, {1}}, {65535, {1, 2}}}), errc::beyond_max_size);
  Patch empty_run = make_patch("b", 1, 1, {{0, {1}}});
  empty_run.runs.push_back(Run{100, 0});
  check_refused(empty_run, errc::malformed);
  Patch short_bytes = make_patch("b", 1, 1, {{0, {1, 2, 3}}});
  short_bytes.bytes.pop_back();
  check_refused(short_bytes, errc::malformed);
  Patch overflow = make_patch("b", 1, 1, {});
  overflow.runs.push_back(Run{~std::uint64_t{0} - 2, 10});
  overflow.bytes.assign(10, 1);
  check_refused(overflow, errc::beyond_max_size);
  check_refused(make_patch("b", 1, ~std::uint64_t{0}, {{0, {1}}}), errc::malformed);
}

TEST_CASE("a patch reaching past the size grows the memory first") {
  Replica r(small_config("a", 64 * 1024), 4096);
  auto result = r.engine->apply(make_patch("b", 1, 1, {{20000, {7, 7}}}));
  REQUIRE(result.ok());
  CHECK(result->grew);
  CHECK(r.engine->size_bytes() == 20480);
  CHECK(r.growths == std::vector<std::uint64_t>{20480});
  CHECK(r.read(20000, 2) == std::vector<std::uint8_t>{7, 7});
}

TEST_CASE("a patch applied twice changes nothing the second time") {
  Replica r(small_config("a"), 16384);
  auto p = make_patch("b", 1, 3, {{10, {1, 2, 3}}, {5000, {4}}});
  auto first = r.engine->apply(p);
  REQUIRE(first.ok());
  CHECK(first->bytes_written == 4);
  CHECK(first->pages_touched == 2);
  const auto contents = r.contents();
  const auto digests = r.engine->nonzero_digests();
  auto second = r.engine->apply(p);
  REQUIRE(second.ok());
  CHECK(second->bytes_written == 0);
  CHECK(r.contents() == contents);
  CHECK(r.engine->nonzero_digests() == digests);
}

TEST_CASE("an older patch does not overwrite newer bytes, a newer one does") {
  Replica r(small_config("a"), 16384);
  REQUIRE(r.engine->apply(make_patch("b", 2, 5, {{0, {5, 5, 5, 5}}})).ok());
  REQUIRE(r.engine->apply(make_patch("c", 1, 4, {{2, {4, 4, 4, 4}}})).ok());
  CHECK(r.read(0, 6) == std::vector<std::uint8_t>{5, 5, 5, 5, 4, 4});
  REQUIRE(r.engine->apply(make_patch("a0", 1, 5, {{0, {9}}})).ok());  // same lamport, "a0" < "b"
  CHECK(r.read(0, 1) == std::vector<std::uint8_t>{5});
  REQUIRE(r.engine->apply(make_patch("c", 2, 5, {{0, {6}}})).ok());  // same lamport, "c" > "b"
  CHECK(r.read(0, 1) == std::vector<std::uint8_t>{6});
}

TEST_CASE("applying a remote patch is echo-free: the next scan finds nothing") {
  Replica r(small_config("a"), 16384);
  REQUIRE(r.engine->apply(make_patch("b", 1, 1, {{100, filled(5000, 3)}})).ok());
  CHECK(r.engine->scan().empty());
  CHECK(r.emitted.empty());
}

TEST_CASE("absorb before apply keeps a local write made before a remote one and emits it") {
  Replica r(small_config("a"), 16384);
  r.write(10, {0xAA, 0xAA});                                             // local, not scanned yet
  auto result = r.engine->apply(make_patch("b", 1, 1, {{20, {0xBB}}}));  // same page
  REQUIRE(result.ok());
  CHECK(result->pages_absorbed == 1);
  REQUIRE(r.emitted.size() == 1);
  CHECK(r.emitted[0].runs == std::vector<Run>{{10, 2}});
  CHECK(r.emitted[0].lamport == 1);
  CHECK(result->local_patches == r.emitted);  // returned as well as given to on_diff
  CHECK(r.read(10, 2) == std::vector<std::uint8_t>{0xAA, 0xAA});
  CHECK(r.read(20, 1) == std::vector<std::uint8_t>{0xBB});
  CHECK(r.engine->scan().empty());
}

TEST_CASE("a remote write to the same byte with a higher timestamp wins over the absorbed one") {
  Replica r(small_config("a"), 16384);
  r.write(10, {0xAA});
  REQUIRE(r.engine->apply(make_patch("b", 1, 7, {{10, {0xBB}}})).ok());
  REQUIRE(r.emitted.size() == 1);  // the local write was still emitted
  CHECK(r.read(10, 1) == std::vector<std::uint8_t>{0xBB});
}

TEST_CASE("a pending local write that a newer whole-page patch would overwrite needs no absorb") {
  // Any local round now would take lamport 1 < 5: the local byte loses everywhere either way.
  Replica r(small_config("a"), 16384);
  r.write(10, {0xAA});
  auto result = r.engine->apply(make_patch("b", 1, 5, {{0, filled(4096, 0xBB)}}));
  REQUIRE(result.ok());
  CHECK(result->pages_absorbed == 0);
  CHECK(r.emitted.empty());
  CHECK(r.read(0, 4096) == filled(4096, 0xBB));
  CHECK(r.engine->scan().empty());
}

TEST_CASE("a pending local write survives a whole-page patch that a local round would beat") {
  Replica r(small_config("a"), 16384);
  REQUIRE(r.engine->apply(make_patch("b", 1, 10, {{8192, {1}}})).ok());  // seen lamport 10
  r.write(10, {0xAA});
  auto result = r.engine->apply(make_patch("c", 1, 3, {{0, filled(4096, 0xBB)}}));
  REQUIRE(result.ok());
  CHECK(result->pages_absorbed == 1);
  REQUIRE(r.emitted.size() == 1);
  CHECK(r.emitted[0].lamport == 11);
  CHECK(r.read(10, 1) == std::vector<std::uint8_t>{0xAA});
  CHECK(r.read(0, 10) == filled(10, 0xBB));
  CHECK(r.read(11, 4085) == filled(4085, 0xBB));
}

TEST_CASE("digests are equal for equal states and the zero digest marks untouched pages") {
  Replica a(small_config("a"), 16384), b(small_config("b"), 16384);
  const auto p1 = make_patch("c", 1, 1, {{10, {1, 2}}, {9000, {3}}});
  const auto p2 = make_patch("d", 1, 2, {{11, {7}}});
  REQUIRE(a.engine->apply(p1).ok());
  REQUIRE(a.engine->apply(p2).ok());
  REQUIRE(b.engine->apply(p2).ok());  // other order, other local peer numbering
  REQUIRE(b.engine->apply(p1).ok());
  CHECK(a.engine->zero_page_digest() == b.engine->zero_page_digest());
  CHECK(a.engine->nonzero_digests() == b.engine->nonzero_digests());
  CHECK(a.engine->nonzero_digests().size() == 2);
  CHECK(a.engine->page_digest(1) == a.engine->zero_page_digest());
  CHECK(a.engine->page_digest(0) != a.engine->zero_page_digest());
}

TEST_CASE("digests differ when only the versions differ") {
  Replica a(small_config("a"), 16384), b(small_config("b"), 16384);
  REQUIRE(a.engine->apply(make_patch("c", 1, 1, {{0, {1}}})).ok());
  REQUIRE(b.engine->apply(make_patch("c", 1, 2, {{0, {1}}})).ok());
  CHECK(a.read(0, 1) == b.read(0, 1));
  CHECK(a.engine->page_digest(0) != b.engine->page_digest(0));
}

TEST_CASE("export then merge carries a page's bytes and versions to another replica") {
  Replica a(small_config("a"), 16384), b(small_config("b"), 4096);
  a.write(8192 + 5, {1, 2, 3});
  auto state = a.engine->export_page(2);  // absorbs the pending write first
  REQUIRE(state.ok());
  CHECK(a.emitted.size() == 1);
  CHECK(state->versions.size() == 3);
  auto merged = b.engine->merge_page(*state);
  REQUIRE(merged.ok());
  CHECK(merged->grew);
  CHECK(merged->bytes_taken == 3);
  CHECK(b.engine->size_bytes() == 12288);
  CHECK(b.read(8192 + 5, 3) == std::vector<std::uint8_t>{1, 2, 3});
  CHECK(b.engine->page_digest(2) == a.engine->page_digest(2));
  CHECK(b.engine->page_versions(2) == a.engine->page_versions(2));
  CHECK(b.engine->lamport() == a.engine->lamport());
  CHECK(b.engine->scan().empty());
  auto again = b.engine->merge_page(*state);
  REQUIRE(again.ok());
  CHECK(again->bytes_taken == 0);
  CHECK(a.engine->export_page(4).error() == make_error_code(errc::out_of_range));
}

TEST_CASE("export and merge return the patches of the local changes they absorbed first") {
  Replica a(small_config("a"), 16384), b(small_config("b"), 16384);
  a.write(8192 + 5, {1, 2, 3});
  auto exported = a.engine->export_page_and_patches(2);
  REQUIRE(exported.ok());
  REQUIRE(exported->local_patches.size() == 1);
  CHECK(exported->local_patches == a.emitted);
  CHECK(exported->local_patches[0].runs == std::vector<Run>{{8192 + 5, 3}});
  CHECK(a.engine->export_page_and_patches(2)->local_patches.empty());

  b.write(8192 + 100, {9});
  auto merged = b.engine->merge_page(exported->state);
  REQUIRE(merged.ok());
  CHECK(merged->absorbed_local);
  REQUIRE(merged->local_patches.size() == 1);
  CHECK(merged->local_patches == b.emitted);
  CHECK(merged->local_patches[0].runs == std::vector<Run>{{8192 + 100, 1}});
}

TEST_CASE("the replicated state of a page leaves its pending local changes to the next scan") {
  Replica a(small_config("a"), 16384);
  a.write(8192 + 5, {1, 2, 3});
  a.engine->scan();
  a.write(8192 + 5, {7});  // pending: not scanned yet
  auto state = a.engine->replicated_page_state(2);
  REQUIRE(state.ok());
  CHECK(state->bytes[5] == 1);   // the replicated byte, not the pending 7
  CHECK(a.emitted.size() == 1);  // nothing absorbed
  auto exported = a.engine->export_page(2);
  REQUIRE(exported.ok());
  CHECK(exported->bytes[5] == 7);
  CHECK(a.emitted.size() == 2);
  CHECK(a.engine->replicated_page_state(2)->bytes == exported->bytes);
  CHECK(a.engine->replicated_page_state(2)->versions == exported->versions);
  CHECK(a.engine->replicated_page_state(4).error() == make_error_code(errc::out_of_range));
}

TEST_CASE("the replicated state is read through the page reader when one is set") {
  Replica a(small_config("a"), 16384);
  a.write(4096 + 9, {4, 5});
  a.engine->scan();
  std::vector<std::pair<Storage, std::uint64_t>> asked;
  int calls = 0;
  a.engine->set_page_reader([&](Storage storage, std::span<const StorageRead> reads) -> Status {
    ++calls;
    for (const StorageRead& r : reads) {
      asked.emplace_back(storage, r.offset_bytes);
      // What the reader returned: a mark of the offset's page in the shadow.
      std::fill(r.bytes.begin(), r.bytes.end(), std::uint8_t(0xe0 + r.offset_bytes / 4096 % 16));
    }
    return {};
  });
  auto read = a.engine->replicated_page_state(1);
  REQUIRE(read.ok());
  REQUIRE(asked.size() == 1);
  CHECK(asked[0].first == Storage::state);
  CHECK(read->bytes ==
        std::vector<std::uint8_t>(4096, std::uint8_t(asked[0].second / 4096 % 16 + 0xe0)));
  // A batch: one call, one read per page in range, each page its own bytes and versions.
  asked.clear();
  calls = 0;
  const std::uint64_t pages[] = {2, 1, 9, 0};
  auto batch = a.engine->replicated_page_states(pages);
  REQUIRE(batch.size() == 4);
  CHECK(calls == 1);
  CHECK(asked.size() == 3);
  CHECK(batch[2].error() == make_error_code(errc::out_of_range));
  for (const std::size_t i : {0, 1, 3}) {
    REQUIRE(batch[i].ok());
    CHECK(batch[i]->page_index == pages[i]);
    CHECK(batch[i]->versions == a.engine->page_versions(pages[i]));
  }
  CHECK(batch[1]->bytes == read->bytes);
  CHECK(asked[0].second == asked[1].second + 4096);  // page 2, then page 1 just before it
  CHECK(batch[0]->bytes != batch[1]->bytes);
  // A reader that fails leaves the engine to its mapping.
  a.engine->set_page_reader(
      [](Storage, std::span<const StorageRead>) -> Status { return Error(errc::io_error, "no"); });
  auto mapped = a.engine->replicated_page_state(1);
  REQUIRE(mapped.ok());
  CHECK(mapped->bytes[9] == 4);
  CHECK(mapped->bytes[10] == 5);
  auto mapped_batch = a.engine->replicated_page_states(pages);
  REQUIRE(mapped_batch[1].ok());
  CHECK(mapped_batch[1]->bytes == mapped->bytes);
}

TEST_CASE("merge refuses malformed page states with nothing changed") {
  Replica r(small_config("a"), 16384);
  PageState s;
  s.page_index = 0;
  s.bytes.assign(4096, 1);
  s.versions = {{0, 4096, {1, "b"}}};
  auto bad = s;
  bad.bytes.pop_back();
  CHECK(r.engine->merge_page(bad).error() == make_error_code(errc::malformed));
  bad = s;
  bad.versions = {{0, 100, {1, "b"}}};
  CHECK(r.engine->merge_page(bad).error() == make_error_code(errc::malformed));
  bad.versions = {{0, 100, {1, "b"}}, {100, 4096, {1, "b"}}};  // not merged
  CHECK(r.engine->merge_page(bad).error() == make_error_code(errc::malformed));
  bad.versions = {{0, 100, {1, "b"}}, {101, 4096, {2, "b"}}};  // gap
  CHECK(r.engine->merge_page(bad).error() == make_error_code(errc::malformed));
  bad.versions = {{0, 4096, {1, ""}}};
  CHECK(r.engine->merge_page(bad).error() == make_error_code(errc::invalid_peer_id));
  bad.versions = {{0, 4096, {0, "b"}}};
  CHECK(r.engine->merge_page(bad).error() == make_error_code(errc::malformed));
  bad = s;
  bad.page_index = 16;
  CHECK(r.engine->merge_page(bad).error() == make_error_code(errc::beyond_max_size));
  CHECK(r.engine->nonzero_digests().empty());
  CHECK(r.engine->merge_page(s).ok());
  CHECK(r.read(0, 1) == std::vector<std::uint8_t>{1});
}

TEST_CASE("find_changed_pages and absorb_pages split a scan into its two halves") {
  Replica r(small_config("a"), 16384);
  r.write(5000, {1});
  r.write(13000, {2});
  CHECK(r.engine->find_changed_pages(0, 100) == std::vector<std::uint64_t>{1, 3});
  CHECK(r.engine->find_changed_pages(2, 3).empty());
  const std::uint64_t pages[] = {3, 1, 3, 99};
  auto patches = r.engine->absorb_pages(pages);
  REQUIRE(patches.size() == 1);
  CHECK(patches[0].runs == std::vector<Run>{{5000, 1}, {13000, 1}});
  CHECK(r.engine->find_changed_pages(0, 4).empty());
}

TEST_CASE("our own patch coming back raises the local sequence so it is never reissued") {
  Replica r(small_config("a"), 16384);
  REQUIRE(r.engine->apply(make_patch("a", 7, 3, {{0, {1}}})).ok());
  CHECK(r.engine->local_seq() == 7);
  r.write(100, {1});
  auto patches = r.engine->scan();
  REQUIRE(patches.size() == 1);
  CHECK(patches[0].seq == 8);
  CHECK(patches[0].lamport == 4);
}

TEST_CASE("a full peer table refuses patches from new origins with nothing applied") {
  auto c = small_config("a");
  c.max_peers = 2;
  Replica r(c, 16384);
  REQUIRE(r.engine->apply(make_patch("b", 1, 1, {{0, {1}}})).ok());
  CHECK(r.engine->apply(make_patch("c", 1, 2, {{0, {2}}})).error() ==
        make_error_code(errc::peer_table_full));
  CHECK(r.read(0, 1) == std::vector<std::uint8_t>{1});
}

}  // namespace
}  // namespace wmd::test
