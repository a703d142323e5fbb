#include <doctest/doctest.h>

#include "engine/types.hpp"
#include "engine/version_list.hpp"

namespace wmd::engine_detail {
namespace {

const std::vector<std::string> kNames = {"", "a", "b", "c"};

VersionList list_of(std::vector<VersionEntry> entries) {
  return entries;
}

TEST_CASE("timestamps order by lamport first, then by peer id bytes") {
  CHECK(Timestamp{1, "z"} < Timestamp{2, "a"});
  CHECK(Timestamp{2, "a"} < Timestamp{2, "b"});
  CHECK(Timestamp{2, "B"} < Timestamp{2, "a"});  // bytes, not case-folded
  CHECK(Timestamp{0, ""} < Timestamp{1, "a"});
  CHECK(Timestamp{3, "ab"} > Timestamp{3, "a"});
  StampOrder order(&kNames);
  CHECK(order.less(Stamp{1, 3}, Stamp{2, 1}));
  CHECK(order.less(Stamp{2, 1}, Stamp{2, 2}));
  CHECK_FALSE(order.less(Stamp{2, 2}, Stamp{2, 2}));
  CHECK(order.less(Stamp{0, 0}, Stamp{1, 1}));
}

TEST_CASE("the zero list covers the page at the zero stamp and is canonical") {
  auto zero = zero_version_list(4096);
  CHECK(is_canonical(zero, 4096));
  CHECK(is_zero_version_list(zero));
  CHECK_FALSE(is_canonical(zero, 8192));
}

TEST_CASE("canonical form rejects gaps, overlaps, empty runs and unmerged neighbours") {
  CHECK(is_canonical(list_of({{0, 10, {1, 1}}, {10, 100, {2, 1}}}), 100));
  CHECK_FALSE(is_canonical(list_of({{0, 10, {1, 1}}, {11, 100, {2, 1}}}), 100));
  CHECK_FALSE(is_canonical(list_of({{0, 10, {1, 1}}, {9, 100, {2, 1}}}), 100));
  CHECK_FALSE(is_canonical(list_of({{0, 0, {1, 1}}, {0, 100, {2, 1}}}), 100));
  CHECK_FALSE(is_canonical(list_of({{0, 10, {1, 1}}, {10, 100, {1, 1}}}), 100));
  CHECK_FALSE(is_canonical(list_of({}), 100));
}

TEST_CASE("stamping a range splits the run it lands in") {
  StampOrder order(&kNames);
  VersionList out;
  std::vector<PageRange> written;
  const PageRange r[] = {{10, 20, 0}};
  overlay(zero_version_list(100), r, Stamp{5, 1}, false, order, out, &written);
  CHECK(out == list_of({{0, 10, {}}, {10, 20, {5, 1}}, {20, 100, {}}}));
  REQUIRE(written.size() == 1);
  CHECK(written[0].start == 10);
  CHECK(written[0].end == 20);
}

TEST_CASE("stamping adjacent to a run of the same stamp merges them") {
  StampOrder order(&kNames);
  VersionList out;
  auto base = list_of({{0, 10, {}}, {10, 20, {5, 1}}, {20, 100, {}}});
  const PageRange r[] = {{20, 30, 0}, {0, 10, 0}};
  const PageRange sorted[] = {r[1], r[0]};
  overlay(base, sorted, Stamp{5, 1}, false, order, out, nullptr);
  CHECK(out == list_of({{0, 30, {5, 1}}, {30, 100, {}}}));
  CHECK(is_canonical(out, 100));
}

TEST_CASE("last-writer-wins overlay writes only bytes with older stamps") {
  StampOrder order(&kNames);
  auto base = list_of({{0, 10, {3, 1}}, {10, 20, {7, 2}}, {20, 100, {3, 1}}});
  VersionList out;
  std::vector<PageRange> written;
  const PageRange r[] = {{5, 25, 1000}};
  overlay(base, r, Stamp{5, 3}, true, order, out, &written);
  CHECK(out == list_of({{0, 5, {3, 1}},
                        {5, 10, {5, 3}},
                        {10, 20, {7, 2}},
                        {20, 25, {5, 3}},
                        {25, 100, {3, 1}}}));
  REQUIRE(written.size() == 2);
  CHECK(written[0].start == 5);
  CHECK(written[0].payload_offset == 1000);
  CHECK(written[1].start == 20);
  CHECK(written[1].payload_offset == 1015);
}

TEST_CASE("an overlay with an equal stamp writes nothing (idempotence)") {
  StampOrder order(&kNames);
  auto base = list_of({{0, 50, {5, 1}}, {50, 100, {}}});
  VersionList out;
  std::vector<PageRange> written;
  const PageRange r[] = {{0, 50, 0}};
  overlay(base, r, Stamp{5, 1}, true, order, out, &written);
  CHECK(out == base);
  CHECK(written.empty());
}

TEST_CASE("merging two lists takes the per-byte maximum and reports what the remote won") {
  StampOrder order(&kNames);
  auto local = list_of({{0, 50, {4, 1}}, {50, 100, {}}});
  auto remote = list_of({{0, 30, {2, 2}}, {30, 60, {4, 2}}, {60, 100, {1, 3}}});
  VersionList out;
  std::vector<PageRange> taken;
  merge_max(local, remote, order, out, taken);
  CHECK(out == list_of({{0, 30, {4, 1}}, {30, 60, {4, 2}}, {60, 100, {1, 3}}}));
  REQUIRE(taken.size() == 1);  // [30,50) and [50,60) are adjacent and merged
  CHECK(taken[0].start == 30);
  CHECK(taken[0].end == 100);
  // Merging is commutative on the resulting list.
  VersionList back;
  std::vector<PageRange> taken_back;
  merge_max(remote, local, order, back, taken_back);
  CHECK(back == out);
}

}  // namespace
}  // namespace wmd::engine_detail
