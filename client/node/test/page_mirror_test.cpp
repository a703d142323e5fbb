// PageMirror: the change detection behind attachSegment's push() and pull().
#include "client/node/src/page_mirror.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <vector>

namespace wmd::node {
namespace {

constexpr std::uint32_t kPage = 4096;

struct Sides {
  std::vector<std::uint8_t> memory;
  std::vector<std::uint8_t> segment;
  PageMirror mirror{kPage};
  explicit Sides(std::size_t size) : memory(size), segment(size) { mirror.grow(size); }
  MirrorStats push() { return mirror.push(memory, segment); }
  MirrorStats pull() { return mirror.pull(memory, segment); }
};

}  // namespace

TEST_CASE("with nothing changed, push and pull copy nothing") {
  Sides s(4 * kPage);
  CHECK(s.push().bytes_copied == 0);
  CHECK(s.pull().bytes_copied == 0);
  CHECK(s.push().pages_changed == 0);
}

TEST_CASE("push copies exactly the bytes the memory changed, and only once") {
  Sides s(4 * kPage);
  s.memory[10] = 1;
  s.memory[11] = 2;
  s.memory[3 * kPage + 5] = 3;
  s.segment[2 * kPage] = 9;  // a remote change push must not undo
  MirrorStats stats = s.push();
  CHECK(stats.pages_changed == 2);
  CHECK(stats.bytes_copied == 3);
  CHECK(s.segment[10] == 1);
  CHECK(s.segment[11] == 2);
  CHECK(s.segment[3 * kPage + 5] == 3);
  CHECK(s.segment[2 * kPage] == 9);
  CHECK(s.push().bytes_copied == 0);
}

TEST_CASE("pull copies exactly the bytes the segment changed") {
  Sides s(4 * kPage);
  s.segment[kPage + 1] = 7;
  s.memory[5] = 4;  // a local change pull must not undo
  MirrorStats stats = s.pull();
  CHECK(stats.pages_changed == 1);
  CHECK(stats.bytes_copied == 1);
  CHECK(s.memory[kPage + 1] == 7);
  CHECK(s.memory[5] == 4);
  CHECK(s.pull().bytes_copied == 0);
  // The memory now holds the pulled byte as agreed: nothing to push for it.
  CHECK(s.push().bytes_copied == 1);  // only memory[5]
}

TEST_CASE("a byte changed on both sides keeps the module's value, which the next push sends") {
  Sides s(kPage);
  s.memory[100] = 1;
  s.segment[100] = 2;
  s.segment[101] = 3;
  MirrorStats pulled = s.pull();
  CHECK(pulled.bytes_copied == 1);
  CHECK(s.memory[100] == 1);
  CHECK(s.memory[101] == 3);
  s.push();
  CHECK(s.segment[100] == 1);
  CHECK(s.memory == s.segment);
}

TEST_CASE("growth: new pages start as zeros, remote bytes there are pulled, local ones pushed") {
  Sides s(kPage);
  s.memory.resize(3 * kPage);
  s.segment.resize(3 * kPage);
  s.mirror.grow(3 * kPage);
  s.segment[2 * kPage + 1] = 5;
  s.memory[kPage + 1] = 6;
  CHECK(s.push().bytes_copied == 1);
  CHECK(s.pull().bytes_copied == 1);
  CHECK(s.memory == s.segment);
}

TEST_CASE("a partial last page is tracked like the others") {
  Sides s(kPage + 100);
  s.memory[kPage + 99] = 1;
  CHECK(s.push().bytes_copied == 1);
  s.segment[kPage + 50] = 2;
  CHECK(s.pull().bytes_copied == 1);
  s.memory.resize(2 * kPage);
  s.segment.resize(2 * kPage);
  s.mirror.grow(2 * kPage);
  s.memory[2 * kPage - 1] = 3;
  CHECK(s.push().bytes_copied == 1);
  CHECK(s.memory == s.segment);
}

TEST_CASE("reset_to adopts agreed bytes: nothing to push or pull afterwards") {
  Sides s(2 * kPage);
  for (std::size_t i = 0; i < s.memory.size(); ++i)
    s.memory[i] = s.segment[i] = static_cast<std::uint8_t>(i);
  s.mirror.reset_to(s.memory);
  CHECK(s.push().pages_changed == 0);
  CHECK(s.pull().pages_changed == 0);
}

TEST_CASE("two memories mirrored through one segment converge under random writes") {
  const std::uint32_t seed = 20261124;
  std::mt19937 rng(seed);
  INFO("seed " << seed);
  const std::size_t size = 8 * kPage;
  std::vector<std::uint8_t> segment(size);
  std::vector<std::uint8_t> a(size), b(size);
  PageMirror ma(kPage), mb(kPage);
  ma.grow(size);
  mb.grow(size);
  for (int round = 0; round < 200; ++round) {
    for (int k = 0; k < 5; ++k) a[rng() % size] = static_cast<std::uint8_t>(rng());
    for (int k = 0; k < 5; ++k) b[rng() % size] = static_cast<std::uint8_t>(rng());
    ma.push(a, segment);
    ma.pull(a, segment);
    mb.push(b, segment);
    mb.pull(b, segment);
  }
  ma.pull(a, segment);
  CHECK(a == segment);
  CHECK(b == segment);
}

}  // namespace wmd::node
