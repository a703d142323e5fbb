// The bulk page writer: page states for never-written, unbacked pages are written in one batch
// through it, with the very outcome of the per-page merge through the mappings.
#include <doctest/doctest.h>

#include <cstring>
#include <random>

#include "engine/state_layout.hpp"
#include "tests/unit/engine/engine_test_support.hpp"

namespace wmd {
namespace {

using test::Replica;
using test::small_config;

constexpr std::uint32_t kPage = 4096;
constexpr std::uint64_t kPages = 16;

EngineConfig config(const std::string& peer) {
  EngineConfig c = small_config(peer);
  c.version_pool_blocks = 4096;  // random pages with zero bytes among them have many runs
  return c;
}

// Every page the writer has not written counts as a hole; writes land in the replica's memory
// and state buffers (what pwrite() on the shared objects does in the daemon).
struct InMemoryWriter {
  Replica* replica = nullptr;
  std::vector<bool> backed = std::vector<bool>(kPages, false);
  int calls = 0;
  std::uint64_t pages_written = 0;
  std::uint64_t blocks_written = 0;  // version-list blocks written to state storage
  bool fail = false;
  int fail_call = 0;                         // when not 0, that call fails (1 = the first)
  std::function<void(bool after)> on_write;  // runs before and after each call's writes

  BackingProbe probe() {
    return [this](std::uint64_t page, std::uint64_t end_page) {
      std::uint64_t end = page + 1;
      while (end < end_page && backed[end] == backed[page]) ++end;
      return BackingExtent{backed[page], end};
    };
  }
  BulkPageWriter writer() {
    return [this](Storage storage, std::span<const StorageWrite> writes) -> Status {
      ++calls;
      if (on_write) on_write(false);
      if (fail || calls == fail_call) return errc::io_error;
      auto& target = storage == Storage::memory ? replica->memory : replica->state;
      for (std::size_t i = 1; i < writes.size(); ++i) {  // the contract: sorted, no overlap
        REQUIRE(writes[i - 1].offset_bytes + writes[i - 1].bytes.size() <= writes[i].offset_bytes);
      }
      for (const StorageWrite& w : writes) {
        REQUIRE(w.offset_bytes + w.bytes.size() <= target.size());
        std::memcpy(target.data() + w.offset_bytes, w.bytes.data(), w.bytes.size());
        if (storage == Storage::memory) {
          backed[w.offset_bytes / kPage] = true;
          ++pages_written;
        } else if (w.bytes.size() == sizeof(engine_detail::VersionBlock)) {
          ++blocks_written;
        }
      }
      if (on_write) on_write(true);
      return {};
    };
  }
  void attach(Replica& r) {
    replica = &r;
    r.engine->set_backing_probe(probe());
    r.engine->set_bulk_page_writer(writer());
  }
};

// A source replica with random bytes on some pages (with zero bytes among them, so pages carry
// several version runs) and one patch from a second origin.
Replica make_source(std::mt19937_64& rng) {
  Replica src(config("a"), kPages * kPage);
  for (std::uint64_t page = 0; page < kPages; page += 1 + rng() % 2) {
    std::vector<std::uint8_t> bytes(kPage);
    for (auto& b : bytes) b = static_cast<std::uint8_t>(rng() % 32 == 0 ? 0 : rng());
    src.write(page * kPage, bytes);
  }
  src.engine->scan();
  REQUIRE(src.engine->apply(test::make_patch("c", 1, 50, {{3 * kPage + 7, {1, 2, 3}}})).ok());
  return src;
}

std::vector<PageState> export_all(Replica& src) {
  std::vector<PageState> states;
  for (const PageDigest& d : src.engine->nonzero_digests()) {
    auto state = src.engine->export_page(d.page_index);
    REQUIRE(state.ok());
    states.push_back(std::move(*state));
  }
  return states;
}

void check_same(Replica& a, Replica& b) {
  REQUIRE(a.engine->size_bytes() == b.engine->size_bytes());
  CHECK(a.contents() == b.contents());
  for (std::uint64_t page = 0; page < a.engine->page_count(); ++page) {
    CHECK(a.engine->page_digest(page) == b.engine->page_digest(page));
    CHECK(a.engine->page_versions(page) == b.engine->page_versions(page));
  }
}

// The engine on bulk's state, reopened: every version list stored is whole and reachable (no
// page to repair, no block leaked), and the replica still equals src.
void check_reopens_whole(Replica& bulk, Replica& src) {
  bulk.engine.reset();
  bulk.open(kPages * kPage);
  const RecoveryStats recovered = bulk.engine->recovery_stats();
  CHECK(recovered.torn_pages == 0);
  CHECK(recovered.corrupt_pages == 0);
  CHECK(recovered.leaked_blocks == 0);
  check_same(bulk, src);
}

TEST_CASE("page states for never-written unbacked pages go through the bulk writer in one batch") {
  std::mt19937_64 rng(7);
  Replica src = make_source(rng);
  const auto states = export_all(src);
  Replica bulk(config("b"), kPages * kPage);
  InMemoryWriter io;
  io.attach(bulk);
  Replica mapped(config("d"), kPages * kPage);  // the per-page path, for comparison

  auto merged = bulk.engine->merge_pages(states);
  REQUIRE(merged.ok());
  CHECK(io.calls == 3);  // memory, then state: the shadow copies, then the version lists
  CHECK(io.pages_written == states.size());
  CHECK(io.blocks_written >= states.size());  // at least one block per list
  for (const auto& state : states) REQUIRE(mapped.engine->merge_page(state).ok());
  check_same(bulk, mapped);
  check_same(bulk, src);
  // The pages are written now: a scan finds nothing (the shadow holds the same bytes), and a
  // second merge of the same states takes nothing and does not use the writer.
  CHECK(bulk.engine->scan().empty());
  auto again = bulk.engine->merge_pages(states);
  REQUIRE(again.ok());
  CHECK(again->bytes_taken == 0);
  CHECK(io.calls == 3);
  check_reopens_whole(bulk, src);  // the lists the writer wrote
}

TEST_CASE("a page named twice in one batch is merged after its first state has landed") {
  Replica bulk(config("b"), kPages * kPage);
  InMemoryWriter io;
  io.attach(bulk);
  PageState older{2, test::filled(kPage, 1), {VersionRun{0, kPage, Timestamp{5, "a"}}}};
  PageState newer{
      2,
      test::filled(kPage, 2),
      {VersionRun{0, 100, Timestamp{0, ""}}, VersionRun{100, kPage, Timestamp{9, "c"}}}};
  newer.bytes.assign(100, 0);
  newer.bytes.resize(kPage, 2);
  auto merged = bulk.engine->merge_pages(std::vector<PageState>{older, newer});
  REQUIRE(merged.ok());
  auto expected = test::filled(kPage, 2);
  std::fill(expected.begin(), expected.begin() + 100, 1);
  CHECK(bulk.read(2 * kPage, kPage) == expected);
  CHECK(bulk.engine->page_versions(2).size() == 2);
  CHECK(bulk.engine->scan().empty());
}

TEST_CASE("bytes a page state claims at the zero stamp stay zero on a never-written page") {
  Replica bulk(config("b"), kPages * kPage);
  InMemoryWriter io;
  io.attach(bulk);
  Replica mapped(config("d"), kPages * kPage);
  // Bytes 0..9 are at the zero stamp yet non-zero: no honest peer sends that.
  PageState state{4,
                  test::filled(kPage, 7),
                  {VersionRun{0, 10, Timestamp{0, ""}}, VersionRun{10, kPage, Timestamp{3, "a"}}}};
  REQUIRE(bulk.engine->merge_pages(std::span(&state, 1)).ok());
  REQUIRE(mapped.engine->merge_page(state).ok());
  CHECK(bulk.read(4 * kPage, 10) == test::filled(10, 0));
  check_same(bulk, mapped);
  CHECK(io.pages_written == 1);
}

TEST_CASE("when the bulk writer fails, the pages are written through the mappings") {
  std::mt19937_64 rng(11);
  Replica src = make_source(rng);
  const auto states = export_all(src);
  Replica bulk(config("b"), kPages * kPage);
  InMemoryWriter io;
  io.attach(bulk);
  io.fail = true;
  REQUIRE(bulk.engine->merge_pages(states).ok());
  CHECK(io.calls == 1);
  check_same(bulk, src);
  CHECK(bulk.engine->scan().empty());
}

TEST_CASE("when only the version lists' write fails, they are stored through the mapping") {
  std::mt19937_64 rng(17);
  Replica src = make_source(rng);
  const auto states = export_all(src);
  Replica bulk(config("b"), kPages * kPage);
  InMemoryWriter io;
  io.attach(bulk);
  io.fail_call = 3;  // memory and shadow land, the blocks do not
  REQUIRE(bulk.engine->merge_pages(states).ok());
  CHECK(io.calls == 3);
  CHECK(io.pages_written == states.size());
  CHECK(io.blocks_written == 0);
  check_same(bulk, src);
  CHECK(bulk.engine->scan().empty());
  check_reopens_whole(bulk, src);
}

TEST_CASE("blocks freed by a written page's merge are reused by the never-written pages after it") {
  std::mt19937_64 rng(19);
  Replica src = make_source(rng);
  Replica bulk(config("b"), kPages * kPage);
  InMemoryWriter io;
  io.attach(bulk);
  auto first = export_all(src);
  REQUIRE(bulk.engine->merge_pages(std::span(first.data(), 1)).ok());  // page 0 only
  // Page 0 changes at the source: merged per byte into bulk's written page 0, its old list's
  // blocks freed, then taken by the never-written pages of the same batch (staged out of
  // index order).
  std::vector<std::uint8_t> bytes(kPage);
  for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
  src.write(0, bytes);
  src.engine->scan();
  const auto states = export_all(src);
  REQUIRE(states.front().page_index == 0);
  const int calls_before = io.calls;
  REQUIRE(bulk.engine->merge_pages(states).ok());
  CHECK(io.calls == calls_before + 3);
  check_same(bulk, src);
  check_reopens_whole(bulk, src);
}

TEST_CASE("a page already written, or backed, is merged per byte as before") {
  Replica bulk(config("b"), kPages * kPage);
  InMemoryWriter io;
  io.attach(bulk);
  io.backed[1] = true;
  bulk.write(1 * kPage, {9, 9});  // a local write the probe can see: absorbed before merging
  PageState state{1, test::filled(kPage, 3), {VersionRun{0, kPage, Timestamp{1, "a"}}}};
  auto merged = bulk.engine->merge_pages(std::span(&state, 1));
  REQUIRE(merged.ok());
  CHECK(merged->absorbed_local);
  CHECK(io.calls == 0);
  CHECK(bulk.emitted.size() == 1);
}

TEST_CASE("a kill while the bulk writer runs leaves torn pages that recovery repairs") {
  std::mt19937_64 rng(13);
  Replica src = make_source(rng);
  const auto states = export_all(src);
  // Kill points: before the memory write, between it and the shadow write, between that and
  // the version lists' blocks, after all three (the records not yet published). Snapshots of
  // memory and state stand for what a kill leaves.
  for (int kill_point = 0; kill_point < 4; ++kill_point) {
    CAPTURE(kill_point);
    Replica bulk(config("b"), kPages * kPage);
    InMemoryWriter io;
    io.attach(bulk);
    std::vector<std::uint8_t> memory_at_kill, state_at_kill;
    auto snapshot = [&] {
      memory_at_kill = bulk.memory;
      state_at_kill = bulk.state;
    };
    io.on_write = [&](bool after) {
      if ((!after && io.calls == kill_point + 1) || (after && kill_point == 3 && io.calls == 3)) {
        snapshot();
      }
    };
    REQUIRE(bulk.engine->merge_pages(states).ok());
    bulk.engine.reset();
    bulk.memory = memory_at_kill;
    bulk.state = state_at_kill;
    bulk.open(kPages * kPage);
    CHECK(bulk.engine->recovery_stats().torn_pages == states.size());
    // Whatever landed is taken as a local write or not at all; catch-up both ways (as the
    // daemon's rounds do) converges the two.
    bulk.engine->scan();
    for (const auto& state : export_all(src)) REQUIRE(bulk.engine->merge_page(state).ok());
    for (const PageDigest& d : bulk.engine->nonzero_digests()) {
      auto state = bulk.engine->export_page(d.page_index);
      REQUIRE(state.ok());
      REQUIRE(src.engine->merge_page(*state).ok());
    }
    for (const auto& state : export_all(src)) REQUIRE(bulk.engine->merge_page(state).ok());
    CHECK(bulk.contents() == src.contents());
    for (std::uint64_t page = 0; page < kPages; ++page) {
      CHECK(bulk.engine->page_digest(page) == src.engine->page_digest(page));
    }
  }
}

}  // namespace
}  // namespace wmd
