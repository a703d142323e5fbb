// The wire cost of patches: the target is at most 1.7x the changed bytes for
// scattered 8-byte stores, framing included.
#include <doctest/doctest.h>

#include <random>
#include <set>

#include "proto/codec.hpp"

namespace wmd::proto {
namespace {

Patch scattered_patch(std::mt19937_64& rng, std::uint64_t segment_bytes, int runs,
                      std::uint32_t run_bytes) {
  std::set<std::uint64_t> slots;  // distinct run-aligned slots, so runs never touch
  while (slots.size() < static_cast<std::size_t>(runs)) {
    slots.insert(rng() % (segment_bytes / run_bytes / 2) * 2);
  }
  Patch patch;
  patch.origin = "host-a.example:7411";
  patch.seq = 123456;
  patch.lamport = 987654321;
  for (std::uint64_t slot : slots) {
    patch.runs.push_back(Run{slot * run_bytes, run_bytes});
    for (std::uint32_t i = 0; i < run_bytes; ++i)
      patch.bytes.push_back(static_cast<std::uint8_t>(rng()));
  }
  return patch;
}

TEST_CASE("1000 scattered 8-byte runs cost at most 1.7x their bytes on the wire") {
  const unsigned seed = std::random_device{}();
  CAPTURE(seed);
  std::mt19937_64 rng(seed);
  for (std::uint64_t segment_bytes : {std::uint64_t{1} << 24, std::uint64_t{1} << 30}) {
    const Patch patch = scattered_patch(rng, segment_bytes, 1000, 8);
    const std::size_t wire = encode(patch).size();
    const double ratio = static_cast<double>(wire) / static_cast<double>(patch.bytes.size());
    MESSAGE("segment " << (segment_bytes >> 20) << " MiB: " << wire << " wire bytes for "
                       << patch.bytes.size() << " changed bytes, ratio " << ratio);
    CHECK(ratio <= 1.7);
  }
}

TEST_CASE("4 KiB blocks cost at most 1.05x their bytes on the wire") {
  std::mt19937_64 rng(7);
  const Patch patch = scattered_patch(rng, std::uint64_t{1} << 30, 16, 4096);
  const double ratio =
      static_cast<double>(encode(patch).size()) / static_cast<double>(patch.bytes.size());
  CHECK(ratio <= 1.05);
}

}  // namespace
}  // namespace wmd::proto
