// The backing probe: never-written pages a sparse memory object reports as holes are not read.
#include <doctest/doctest.h>

#include <atomic>

#include "tests/unit/engine/engine_test_support.hpp"

namespace wmd {
namespace {

using test::Replica;
using test::small_config;

constexpr std::uint32_t kPage = 4096;

// A probe over a fixed set of "backed" pages that counts its calls. Memory the test writes
// without marking it backed stands for bytes the probe cannot see (a hole): the engine must
// believe the probe for never-written pages, and only for those.
struct FakeBacking {
  std::vector<bool> backed;
  std::atomic<int> calls{0};
  BackingProbe probe() {
    return [this](std::uint64_t page, std::uint64_t end_page) {
      ++calls;
      std::uint64_t end = page + 1;
      while (end < end_page && end < backed.size() && backed[end] == backed[page]) ++end;
      return BackingExtent{backed[page], end};
    };
  }
};

TEST_CASE("a scan skips never-written pages the probe reports unbacked, asking once per extent") {
  Replica r(small_config("a"), 16 * kPage);
  FakeBacking backing;
  backing.backed.assign(16, false);
  backing.backed[3] = true;
  r.engine->set_backing_probe(backing.probe());
  r.write(3 * kPage + 5, {1, 2});
  r.write(9 * kPage, {7});  // "in a hole": not a real runtime write, the skip made visible
  auto patches = r.engine->scan();
  REQUIRE(patches.size() == 1);
  REQUIRE(patches[0].runs.size() == 1);
  CHECK(patches[0].runs[0].offset == 3 * kPage + 5);
  // Extents [0,3), [3,4) and [4,16); absorbing page 3 does not ask again (just found changed).
  CHECK(backing.calls.load() == 3);
}

TEST_CASE("a page written before is checked whatever the probe says") {
  Replica r(small_config("a"), 16 * kPage);
  r.write(2 * kPage, {1});
  REQUIRE(r.engine->scan().size() == 1);
  FakeBacking backing;
  backing.backed.assign(16, false);
  r.engine->set_backing_probe(backing.probe());
  // Its stored hash is no longer the zero page's: a hole there (a punched page) is a change.
  r.write(2 * kPage, {0});
  auto patches = r.engine->scan();
  REQUIRE(patches.size() == 1);
  CHECK(patches[0].runs[0].offset == 2 * kPage);
  CHECK(backing.calls.load() == 1);  // one extent; page 2 itself is never asked about
}

TEST_CASE("apply does not read an unbacked never-written page to absorb it first") {
  Replica r(small_config("a"), 16 * kPage);
  FakeBacking backing;
  backing.backed.assign(16, false);
  r.engine->set_backing_probe(backing.probe());
  r.write(4 * kPage + 10, {9});  // invisible to the engine: the probe says hole
  auto applied = r.engine->apply(test::make_patch("b", 1, 1, {{4 * kPage + 100, {5, 5}}}));
  REQUIRE(applied.ok());
  CHECK(applied->pages_absorbed == 0);
  CHECK(r.emitted.empty());
  // Backed, the same page is read and its pending write absorbed before the remote one.
  backing.backed[5] = true;
  r.write(5 * kPage + 10, {9});
  applied = r.engine->apply(test::make_patch("b", 2, 2, {{5 * kPage + 100, {5, 5}}}));
  REQUIRE(applied.ok());
  CHECK(applied->pages_absorbed == 1);
  CHECK(r.emitted.size() == 1);
}

}  // namespace
}  // namespace wmd
