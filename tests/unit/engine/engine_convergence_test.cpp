// Convergence: the product's core promise. Replicas that see the same writes, in any order,
// with duplicates and drops repaired by catch-up, end byte- and version-identical.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <random>

#include "tests/unit/engine/engine_test_support.hpp"

namespace wmd::test {
namespace {

struct InFlight {
  std::size_t to = 0;
  Patch patch;
};

// Full-state catch-up between every pair, both ways: sizes first (grow-only maximum), then
// digests, then page states for the pages whose digests differ.
void catch_up(std::vector<std::unique_ptr<Replica>>& replicas) {
  std::uint64_t size = 0;
  for (auto& r : replicas) size = std::max(size, r->engine->size_bytes());
  for (auto& r : replicas) REQUIRE(r->engine->resize(size).ok());
  for (int pass = 0; pass < 2; ++pass) {
    for (std::size_t i = 0; i < replicas.size(); ++i) {
      for (std::size_t j = 0; j < replicas.size(); ++j) {
        if (i == j) continue;
        Engine& from = *replicas[i]->engine;
        Engine& to = *replicas[j]->engine;
        for (std::uint64_t page = 0; page < from.page_count(); ++page) {
          if (from.page_digest(page) == to.page_digest(page)) continue;
          auto state = from.export_page(page);
          REQUIRE(state.ok());
          auto merged = to.merge_page(*state);
          REQUIRE_MESSAGE(merged.ok(), merged.error().message());
        }
      }
    }
  }
}

void check_converged(std::vector<std::unique_ptr<Replica>>& replicas) {
  const Engine& first = *replicas[0]->engine;
  for (auto& r : replicas) {
    CHECK(r->engine->scan().empty());
    REQUIRE(r->engine->size_bytes() == first.size_bytes());
    CHECK(r->contents() == replicas[0]->contents());
    CHECK(r->engine->nonzero_digests() == first.nonzero_digests());
    for (std::uint64_t page = 0; page < first.page_count(); ++page) {
      CHECK(r->engine->page_versions(page) == first.page_versions(page));
    }
  }
}

// Every write any replica detected survives, unless a later write (by the total order)
// overwrote the byte: the final version of each byte is >= every detected write's timestamp,
// and where equal, the byte is that write's byte.
void check_nothing_lost(const std::vector<std::unique_ptr<Replica>>& replicas) {
  const Replica& final_state = *replicas[0];
  std::vector<std::vector<VersionRun>> versions;
  for (std::uint64_t page = 0; page < final_state.engine->page_count(); ++page) {
    versions.push_back(final_state.engine->page_versions(page));
  }
  const std::uint32_t ps = final_state.engine->page_size();
  auto version_at = [&](std::uint64_t offset) -> const Timestamp& {
    const auto& list = versions[offset / ps];
    const auto in_page = static_cast<std::uint32_t>(offset % ps);
    auto it = std::upper_bound(list.begin(), list.end(), in_page,
                               [](std::uint32_t v, const VersionRun& run) { return v < run.end; });
    return it->ts;
  };
  for (const auto& r : replicas) {
    for (const Patch& p : r->emitted) {
      std::uint64_t pos = 0;
      for (const Run& run : p.runs) {
        for (std::uint32_t k = 0; k < run.length; ++k, ++pos) {
          const Timestamp& v = version_at(run.offset + k);
          REQUIRE(v >= p.ts());
          if (v == p.ts()) REQUIRE(final_state.memory[run.offset + k] == p.bytes[pos]);
        }
      }
    }
  }
}

// skewed_clocks: each replica stamps with a fake wall clock, real time plus its own skew (all
// skews within the clock offset of each other), real time advancing a few ms per step;
// otherwise every clock reads 0 (pure Lamport stamps).
void run_convergence_case(std::uint64_t seed, bool skewed_clocks) {
  std::mt19937_64 rng(seed);
  auto uniform = [&rng](std::uint64_t lo, std::uint64_t hi) {  // inclusive
    return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng);
  };
  constexpr std::uint64_t kOffsetMs = 50;
  std::uint64_t real_time_ms = 1'800'000'000'000;
  const std::size_t n = uniform(3, 5);
  const std::uint64_t ps = 4096;
  const std::uint64_t max_pages = uniform(4, 16);
  std::vector<std::unique_ptr<Replica>> replicas;
  for (std::size_t i = 0; i < n; ++i) {
    auto c = small_config("peer-" + std::to_string(i), max_pages * ps);
    if (skewed_clocks) {
      c.max_clock_offset_ms = kOffsetMs;
      c.wall_clock_ms = [&real_time_ms, skew = uniform(0, kOffsetMs)] {
        return real_time_ms + skew;
      };
    }
    c.max_patch_bytes = static_cast<std::uint32_t>(uniform(0, 1) ? 1u << 20 : uniform(16, 600));
    c.max_merge_gap_bytes = static_cast<std::uint32_t>(uniform(0, 2) == 0 ? uniform(1, 16) : 0);
    c.version_pool_blocks = 2048;
    replicas.push_back(std::make_unique<Replica>(c, uniform(1, max_pages) * ps));
  }
  std::vector<InFlight> network;
  auto send_new_patches = [&](std::size_t from, std::size_t already) {
    auto& emitted = replicas[from]->emitted;
    for (std::size_t k = already; k < emitted.size(); ++k) {
      for (std::size_t to = 0; to < n; ++to) {
        if (to != from) network.push_back(InFlight{to, emitted[k]});
      }
    }
  };
  auto random_write = [&](Replica& r, std::uint64_t offset, std::uint64_t length) {
    const std::uint64_t size = r.engine->size_bytes();
    if (offset >= size) return;
    length = std::min(length, size - offset);
    for (std::uint64_t k = 0; k < length; ++k) {
      r.memory[offset + k] = static_cast<std::uint8_t>(uniform(0, 255));
    }
  };
  auto deliver_one = [&] {
    const std::size_t k = uniform(0, network.size() - 1);
    InFlight msg = network[k];
    const int fate = static_cast<int>(uniform(0, 9));
    if (fate != 0) {  // duplicates stay in flight (fate 1) and arrive again later
      if (fate != 1) network.erase(network.begin() + static_cast<std::ptrdiff_t>(k));
      Replica& to = *replicas[msg.to];
      const std::size_t before = to.emitted.size();
      auto result = to.engine->apply(msg.patch);
      REQUIRE_MESSAGE(result.ok(), result.error().message());
      send_new_patches(msg.to, before);  // pages absorbed before the write
    } else {
      network.erase(network.begin() + static_cast<std::ptrdiff_t>(k));  // dropped
    }
  };

  const int steps = static_cast<int>(uniform(10, 60));
  for (int step = 0; step < steps; ++step) {
    real_time_ms += uniform(0, 3);
    const int action = static_cast<int>(uniform(0, 9));
    const std::size_t who = uniform(0, n - 1);
    Replica& r = *replicas[who];
    if (action <= 2) {  // a local write, sometimes across a page boundary
      random_write(r, uniform(0, r.engine->size_bytes() - 1), uniform(1, uniform(0, 3) ? 16 : 300));
    } else if (action == 3) {  // the same bytes written on several replicas at once
      const std::uint64_t offset = uniform(0, ps * max_pages - 1);
      const std::uint64_t length = uniform(1, 32);
      for (auto& other : replicas) {
        if (uniform(0, 1)) random_write(*other, offset, length);
      }
    } else if (action <= 6) {
      const std::size_t before = r.emitted.size();
      r.engine->scan();
      send_new_patches(who, before);
    } else if (action == 7) {
      const std::uint64_t target = uniform(1, max_pages) * ps - uniform(0, ps - 1);
      REQUIRE(r.engine->resize(target).ok());
    } else if (!network.empty()) {
      for (int k = static_cast<int>(uniform(1, 8)); k > 0 && !network.empty(); --k) deliver_one();
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t before = replicas[i]->emitted.size();
    replicas[i]->engine->scan();
    send_new_patches(i, before);
  }
  while (!network.empty()) deliver_one();
  catch_up(replicas);
  check_converged(replicas);
  check_nothing_lost(replicas);
}

void run_convergence_cases(std::uint64_t base_seed, int cases, bool skewed_clocks) {
  for (int i = 0; i < cases; ++i) {
    const std::uint64_t seed = base_seed + static_cast<std::uint64_t>(i);
    CAPTURE(seed);
    run_convergence_case(seed, skewed_clocks);
  }
}

TEST_CASE("replicas converge byte- and version-identical under any delivery order (property)") {
  run_convergence_cases(20261124, 2000, /*skewed_clocks=*/false);
}

TEST_CASE("replicas converge under skewed wall clocks within the offset (property)") {
  // Hybrid logical clocks: skew within the clock offset changes which of two concurrent
  // writes wins, never whether replicas converge; no accepted stamp is ever refused.
  run_convergence_cases(20261206, 1000, /*skewed_clocks=*/true);
}

TEST_CASE("the seed rule's three-peer cycle converges under the total order") {
  // Ids chosen so that the seed's rule cycles: A < B causally, B < C and C < A by peer id.
  // Under (lamport, id): C = (1,"p2") < A = (1,"p3") < B = (2,"p1"), whatever the order.
  std::array<std::vector<std::uint8_t>, 3> values = {{{0xA}, {0xB}, {0xC}}};
  Replica a(small_config("p3"), 4096), b(small_config("p1"), 4096), c(small_config("p2"), 4096);
  a.write(0, values[0]);
  auto pa = a.engine->scan();
  REQUIRE(b.engine->apply(pa[0]).ok());  // B saw A's write...
  b.write(0, values[1]);                 // ...then overwrote it
  auto pb = b.engine->scan();
  c.write(0, values[2]);  // concurrent with both
  auto pc = c.engine->scan();
  CHECK(pa[0].lamport == 1);
  CHECK(pb[0].lamport == 2);
  CHECK(pc[0].lamport == 1);
  std::array<Patch, 3> patches = {pa[0], pb[0], pc[0]};
  std::array<int, 3> order = {0, 1, 2};
  std::vector<std::uint64_t> digests;
  do {
    Replica d(small_config("d"), 4096);
    for (int k : order) REQUIRE(d.engine->apply(patches[static_cast<std::size_t>(k)]).ok());
    CHECK(d.read(0, 1) == values[1]);
    digests.push_back(d.engine->page_digest(0));
  } while (std::next_permutation(order.begin(), order.end()));
  CHECK(std::all_of(digests.begin(), digests.end(), [&](auto d) { return d == digests[0]; }));
  REQUIRE(a.engine->apply(pc[0]).ok());
  REQUIRE(a.engine->apply(pb[0]).ok());
  REQUIRE(c.engine->apply(pb[0]).ok());
  REQUIRE(c.engine->apply(pa[0]).ok());
  REQUIRE(b.engine->apply(pc[0]).ok());
  for (Replica* r : {&a, &b, &c}) {
    CHECK(r->read(0, 1) == values[1]);
    CHECK(r->engine->page_digest(0) == digests[0]);
  }
}

TEST_CASE("false sharing: concurrent writes to disjoint bytes of one page both survive") {
  Replica a(small_config("a"), 8192), b(small_config("b"), 8192);
  a.write(100, filled(50, 0xAA));
  b.write(200, filled(50, 0xBB));
  b.write(4000, filled(8, 0xBC));
  auto pa = a.engine->scan();
  auto pb = b.engine->scan();
  REQUIRE(pa.size() == 1);
  REQUIRE(pb.size() == 1);
  CHECK(pa[0].lamport == pb[0].lamport);  // truly concurrent
  REQUIRE(a.engine->apply(pb[0]).ok());
  REQUIRE(b.engine->apply(pa[0]).ok());
  for (Replica* r : {&a, &b}) {
    CHECK(r->read(100, 50) == filled(50, 0xAA));
    CHECK(r->read(200, 50) == filled(50, 0xBB));
    CHECK(r->read(4000, 8) == filled(8, 0xBC));
    CHECK(r->engine->scan().empty());
  }
  CHECK(a.contents() == b.contents());
  CHECK(a.engine->page_versions(0) == b.engine->page_versions(0));
  CHECK(a.engine->page_digest(0) == b.engine->page_digest(0));
}

TEST_CASE("false sharing with a write still pending when the remote patch arrives") {
  Replica a(small_config("a"), 8192), b(small_config("b"), 8192);
  a.write(100, filled(50, 0xAA));
  auto pa = a.engine->scan();
  b.write(200, filled(50, 0xBB));  // not scanned yet: absorbed by the apply below
  REQUIRE(b.engine->apply(pa[0]).ok());
  REQUIRE(b.emitted.size() == 1);
  REQUIRE(a.engine->apply(b.emitted[0]).ok());
  CHECK(a.contents() == b.contents());
  CHECK(a.read(200, 50) == filled(50, 0xBB));
  CHECK(b.read(100, 50) == filled(50, 0xAA));
}

}  // namespace
}  // namespace wmd::test
