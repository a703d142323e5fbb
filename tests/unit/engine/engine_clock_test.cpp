// Hybrid logical clock stamps and their bound: local rounds follow the (fake) wall clock, and
// no remote timestamp more than max_clock_offset_ms ahead of it is ever merged.
#include <doctest/doctest.h>

#include "engine/hlc.hpp"
#include "tests/unit/engine/engine_test_support.hpp"

namespace wmd::test {
namespace {

constexpr std::uint64_t kNowMs = 1'800'000'000'000;  // a Unix time in 2027

// A replica whose wall clock reads *now_ms.
EngineConfig clocked_config(const std::string& peer, const std::uint64_t* now_ms) {
  EngineConfig c = small_config(peer);
  c.wall_clock_ms = [now_ms] { return *now_ms; };
  c.max_clock_offset_ms = 500;
  return c;
}

TEST_CASE("the HLC send rule: wall time when ahead, else the counter; a spent counter waits") {
  CHECK(next_hlc(0, kNowMs) == make_hlc(kNowMs, 0));
  CHECK(next_hlc(make_hlc(kNowMs, 0), kNowMs) == make_hlc(kNowMs, 1));
  CHECK(next_hlc(make_hlc(kNowMs + 10, 7), kNowMs) == make_hlc(kNowMs + 10, 8));
  CHECK(next_hlc(make_hlc(kNowMs, kHlcLogicalMask), kNowMs) == std::nullopt);
  CHECK(next_hlc(make_hlc(kNowMs, kHlcLogicalMask), kNowMs + 1) == make_hlc(kNowMs + 1, 0));
  CHECK(hlc_ahead_ms(make_hlc(kNowMs + 501, 0), kNowMs) == 501);
  CHECK(hlc_ahead_ms(make_hlc(kNowMs - 5, 3), kNowMs) == 0);
}

TEST_CASE("local rounds are stamped with the wall clock, and a spent counter defers the round") {
  std::uint64_t now = kNowMs;
  Replica r(clocked_config("a", &now), 8192);
  r.write(0, {1});
  auto first = r.engine->scan();
  REQUIRE(first.size() == 1);
  CHECK(first[0].lamport == make_hlc(kNowMs, 0));
  r.write(0, {2});
  CHECK(r.engine->scan()[0].lamport == make_hlc(kNowMs, 1));  // same millisecond
  // A peer ahead (within the bound) cannot spend our counter: its counter is capped...
  CHECK(r.engine->apply(make_patch("b", 1, make_hlc(kNowMs + 100, kHlcLogicalMask), {{4096, {9}}}))
            .error() == make_error_code(errc::clock_skew));
  REQUIRE(
      r.engine
          ->apply(make_patch("b", 1, make_hlc(kNowMs + 100, kHlcMaxAheadLogical), {{4096, {9}}}))
          .ok());
  r.write(1, {4});
  CHECK(r.engine->scan()[0].lamport == make_hlc(kNowMs + 100, kHlcMaxAheadLogical + 1));
  // ...while a value at or behind our clock may carry any counter. A spent one makes the next
  // local round wait for a later millisecond rather than stamp past that wall part.
  now = kNowMs + 100;
  const std::uint64_t spent = make_hlc(kNowMs + 100, kHlcLogicalMask);
  REQUIRE(r.engine->apply(make_patch("b", 2, spent, {{4096, {9}}})).ok());
  r.write(1, {3});
  ScanStats stats;
  CHECK(r.engine->scan(&stats).empty());
  CHECK(stats.pages_deferred == 1);
  now = kNowMs + 101;
  auto later = r.engine->scan();
  REQUIRE(later.size() == 1);
  CHECK(later[0].lamport == make_hlc(kNowMs + 101, 0));
}

TEST_CASE("a far-future timestamp is refused whole and later local writes still replicate") {
  std::uint64_t now = kNowMs;
  Replica a(clocked_config("a", &now), 8192);
  Replica b(clocked_config("b", &now), 8192);
  const std::uint64_t before = a.engine->lamport();
  // The clock-poisoning attack: one patch at 2^62, and one just past the offset.
  for (std::uint64_t poisoned : {std::uint64_t{1} << 62, make_hlc(kNowMs + 501, 0)}) {
    CAPTURE(poisoned);
    auto applied = a.engine->apply(make_patch("mallory", 1, poisoned, {{0, {0xEE}}}));
    REQUIRE_FALSE(applied.ok());
    CHECK(applied.error() == errc::clock_skew);
    PageState state;
    state.page_index = 1;
    state.bytes.assign(4096, 0xEE);
    state.versions = {VersionRun{0, 10, Timestamp{3, "b"}},
                      VersionRun{10, 4096, Timestamp{poisoned, "mallory"}}};
    auto merged = a.engine->merge_page(state);
    REQUIRE_FALSE(merged.ok());
    CHECK(merged.error() == errc::clock_skew);
    CHECK(a.engine->check_remote_timestamp(poisoned).error() == errc::clock_skew);
  }
  CHECK(a.engine->lamport() == before);
  CHECK(a.read(0, 1) == std::vector<std::uint8_t>{0});
  CHECK(a.read(4096, 1) == std::vector<std::uint8_t>{0});
  CHECK(a.engine->vector_clock().count("mallory") == 0);
  // Exactly at the bound is accepted.
  REQUIRE(a.engine->apply(make_patch("c", 1, make_hlc(kNowMs + 500, 0), {{8, {1}}})).ok());

  // Honest writes keep flowing both ways, and win by real time once it passes the skew.
  now += 600;
  a.write(0, {0x11});
  b.write(16, {0x22});
  const auto from_a = a.engine->scan();
  const auto from_b = b.engine->scan();
  for (const Patch& p : from_a) REQUIRE(b.engine->apply(p).ok());
  for (const Patch& p : from_b) REQUIRE(a.engine->apply(p).ok());
  CHECK(a.read(0, 1) == std::vector<std::uint8_t>{0x11});
  CHECK(b.read(0, 1) == std::vector<std::uint8_t>{0x11});
  CHECK(a.read(16, 1) == std::vector<std::uint8_t>{0x22});
  CHECK(hlc_wall_ms(a.engine->lamport()) <= now);
}

TEST_CASE("the clock survives a restart: a later round never reuses a stamp") {
  std::uint64_t now = kNowMs;
  Replica a(clocked_config("a", &now), 8192);
  a.write(0, {1});
  const auto first = a.engine->scan();
  now = kNowMs - 1000;  // the wall clock stepped back while the daemon was down
  a.open(8192);
  a.write(0, {2});
  const auto second = a.engine->scan();
  REQUIRE(second.size() == 1);
  CHECK(second[0].lamport == first[0].lamport + 1);
}

}  // namespace
}  // namespace wmd::test
