// Page states in the table form (StampedPageStates): the conversions, and Engine::merge_pages()
// on a batch, which checks each table entry once per call and caches its peer ref across pages.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "engine/stamped_pages.hpp"
#include "tests/unit/engine/engine_test_support.hpp"

namespace wmd::test {
namespace {

using RunSpec = std::tuple<std::uint32_t, std::uint32_t, std::uint64_t, std::string>;

// A page state whose versions are `runs` (start, end, lamport, peer), bytes all `fill`.
PageState page_state(std::uint64_t page, std::uint8_t fill, const std::vector<RunSpec>& runs) {
  PageState s;
  s.page_index = page;
  s.bytes.assign(4096, fill);
  for (const auto& [start, end, lamport, peer] : runs) {
    s.versions.push_back(VersionRun{start, end, Timestamp{lamport, peer}});
  }
  return s;
}

TEST_CASE("the table form lists each timestamp once, sorted, and converts back exactly") {
  const std::vector<PageState> states = {
      page_state(0, 1, {{0, 10, 5, "b"}, {10, 20, 0, ""}, {20, 4096, 5, "b"}}),
      page_state(3, 2, {{0, 100, 7, "c"}, {100, 4096, 5, "b"}}),
      page_state(4, 0, {{0, 4096, 0, ""}}),
  };
  const StampedPageStates batch = to_stamped(states);
  CHECK(batch.stamps == std::vector<Timestamp>{{5, "b"}, {7, "c"}});
  REQUIRE(batch.pages.size() == 3);
  CHECK(batch.pages[1].first_run == 3);
  CHECK(batch.pages[1].run_count == 2);
  CHECK(batch.runs[1] == StampedRun{10, 20, 0});
  CHECK(batch.runs[3] == StampedRun{0, 100, 2});
  CHECK(batch.runs[5] == StampedRun{0, 4096, 0});
  CHECK(to_page_states(batch) == states);
}

TEST_CASE("sorting a table built in the order met renumbers the runs to match") {
  StampedPageStates batch;
  batch.stamps = {{9, "b"}, {2, "c"}, {5, "b"}};
  batch.pages.push_back(StampedPage{0, std::vector<std::uint8_t>(4096, 1), 0, 4});
  batch.runs = {{0, 10, 1}, {10, 20, 0}, {20, 30, 2}, {30, 4096, 3}};
  const std::vector<PageState> before = to_page_states(batch);
  sort_stamp_table(batch);
  CHECK(batch.stamps == std::vector<Timestamp>{{2, "c"}, {5, "b"}, {9, "b"}});
  CHECK(batch.runs[0].stamp == 3);
  CHECK(batch.runs[1].stamp == 0);
  CHECK(to_page_states(batch) == before);
}

TEST_CASE("the engine exports a batch in the table form, as its pages one by one") {
  Replica r(small_config("a"), 4 * 4096);
  r.write(10, {1, 2, 0, 3});
  r.engine->scan();
  REQUIRE(r.engine->apply(make_patch("b", 1, 90, {{4096 + 7, {5, 5}}})).ok());
  r.write(4096 * 3, {8});
  r.engine->scan();
  const std::vector<std::uint64_t> pages = {3, 9, 1, 0};  // 9 is past the size: left out
  const StampedPageStates batch = r.engine->replicated_stamped_states(pages);
  REQUIRE(batch.pages.size() == 3);
  CHECK(std::is_sorted(batch.stamps.begin(), batch.stamps.end()));
  const std::vector<PageState> states = to_page_states(batch);
  for (std::size_t i = 0; i < states.size(); ++i) {
    auto one = r.engine->replicated_page_state(states[i].page_index);
    REQUIRE(one.ok());
    CHECK(states[i] == *one);
  }
  CHECK(states[0].page_index == 3);
  CHECK(states[1].page_index == 1);
  CHECK(states[2].page_index == 0);
  CHECK(r.engine->replicated_page_states(pages)[1].error() == make_error_code(errc::out_of_range));
}

TEST_CASE("a batch merged at once equals its pages merged one by one") {
  // A sender with bytes of three origins on several pages, so that the batch's table has
  // entries named by many pages (their refs cached across them).
  Replica sender(small_config("a"), 16 * 4096);
  std::mt19937 rng(1234);
  std::uint64_t lamport = 0;
  for (int round = 0; round < 40; ++round) {
    const std::string origin = round % 3 == 0 ? "a" : (round % 3 == 1 ? "b" : "c");
    const std::uint64_t offset = rng() % (16 * 4096 - 300);
    std::vector<std::uint8_t> bytes(1 + rng() % 300);
    for (auto& b : bytes) b = static_cast<std::uint8_t>(rng() % 4);  // zeros among them
    if (origin == "a") {
      sender.write(offset, bytes);
      sender.engine->scan();
    } else {
      REQUIRE(sender.engine
                  ->apply(make_patch(origin, static_cast<std::uint64_t>(round) + 1, ++lamport + 100,
                                     {{offset, bytes}}))
                  .ok());
    }
  }
  std::vector<PageState> states;
  for (const PageDigest& d : sender.engine->nonzero_digests()) {
    auto state = sender.engine->export_page(d.page_index);
    REQUIRE(state.ok());
    states.push_back(std::move(*state));
  }
  REQUIRE(states.size() > 4);

  Replica one_by_one(small_config("z"), 16 * 4096);
  for (const PageState& state : states) REQUIRE(one_by_one.engine->merge_page(state).ok());
  Replica batched(small_config("z"), 16 * 4096);
  REQUIRE(batched.engine->merge_pages(to_stamped(states)).ok());
  CHECK(batched.contents() == one_by_one.contents());
  CHECK(batched.contents() == sender.contents());
  CHECK(batched.engine->nonzero_digests() == one_by_one.engine->nonzero_digests());
  CHECK(batched.engine->nonzero_digests() == sender.engine->nonzero_digests());
}

TEST_CASE("a new id named by several pages of a batch is interned once, where it wins") {
  Replica r(small_config("a"), 16384);
  REQUIRE(r.engine->apply(make_patch("b", 1, 50, {{4096, test::filled(4096, 9)}})).ok());
  // Page 0: "n" wins. Page 1: "n" loses to b's newer bytes there, then page 2: "n" wins again.
  const std::vector<PageState> states = {
      page_state(0, 1, {{0, 4096, 10, "n"}}),
      page_state(1, 2, {{0, 4096, 10, "n"}}),
      page_state(2, 3, {{0, 2048, 10, "n"}, {2048, 4096, 60, "b"}}),
  };
  REQUIRE(r.engine->merge_pages(to_stamped(states)).ok());
  CHECK(r.engine->page_versions(0) == states[0].versions);
  CHECK(r.engine->page_versions(1) ==
        std::vector<VersionRun>{VersionRun{0, 4096, Timestamp{50, "b"}}});
  CHECK(r.engine->page_versions(2) == states[2].versions);
  CHECK(r.engine->knows_peer("n"));
}

TEST_CASE("a new id that wins nothing on one page keeps its own ref on the next") {
  // Not interned on page 0 (its run loses), so its ref there was pending: page 1 numbers its
  // pending ids afresh, "m" first. Reusing page 0's ref for "n" would make it "m".
  Replica r(small_config("a"), 16384);
  REQUIRE(r.engine->apply(make_patch("b", 1, 50, {{0, test::filled(4096, 9)}})).ok());
  const std::vector<PageState> states = {
      page_state(0, 1, {{0, 4096, 10, "n"}}),
      page_state(1, 2, {{0, 10, 10, "m"}, {10, 4096, 10, "n"}}),
  };
  REQUIRE(r.engine->merge_pages(to_stamped(states)).ok());
  CHECK(r.engine->page_versions(1) == states[1].versions);
  CHECK(r.engine->knows_peer("m"));
  CHECK(r.engine->knows_peer("n"));
}

TEST_CASE("a batch whose table is not strictly increasing is refused whole") {
  Replica r(small_config("a"), 16384);
  StampedPageStates batch = to_stamped(std::vector<PageState>{
      page_state(0, 1, {{0, 10, 5, "b"}, {10, 4096, 7, "c"}}),
  });
  std::swap(batch.stamps[0], batch.stamps[1]);
  CHECK(r.engine->merge_pages(batch).error() == make_error_code(errc::malformed));
  batch.stamps[0] = batch.stamps[1];  // a repeated entry
  CHECK(r.engine->merge_pages(batch).error() == make_error_code(errc::malformed));
  CHECK(r.engine->nonzero_digests().empty());
}

TEST_CASE("a bad table entry fails the first page that names it, the pages before merged") {
  Replica r(small_config("a"), 16384);
  const std::vector<PageState> states = {
      page_state(0, 1, {{0, 4096, 5, "b"}}),
      page_state(1, 2, {{0, 10, 5, "b"}, {10, 4096, 6, "bad id"}}),
      page_state(2, 3, {{0, 4096, 5, "b"}}),
  };
  CHECK(r.engine->merge_pages(to_stamped(states)).error() ==
        make_error_code(errc::invalid_peer_id));
  CHECK(r.read(0, 4096) == test::filled(4096, 1));
  CHECK(r.read(4096, 8192) == test::filled(8192, 0));

  SUBCASE("a listed zero lamport, or a stamp past the table, is malformed") {
    StampedPageStates batch = to_stamped(std::vector<PageState>{
        page_state(0, 1, {{0, 4096, 0, "b"}}),
    });
    REQUIRE(batch.stamps.size() == 1);
    CHECK(r.engine->merge_pages(batch).error() == make_error_code(errc::malformed));
    batch.stamps[0].lamport = 9;
    batch.runs[0].stamp = 2;
    CHECK(r.engine->merge_pages(batch).error() == make_error_code(errc::malformed));
  }
  SUBCASE("runs outside the batch's run list are malformed") {
    StampedPageStates batch = to_stamped(std::vector<PageState>{
        page_state(0, 1, {{0, 4096, 9, "b"}}),
    });
    batch.pages[0].run_count = 2;
    CHECK(r.engine->merge_pages(batch).error() == make_error_code(errc::malformed));
    batch.pages[0].first_run = 1;
    batch.pages[0].run_count = 1;
    CHECK(r.engine->merge_pages(batch).error() == make_error_code(errc::malformed));
  }
}

}  // namespace
}  // namespace wmd::test
