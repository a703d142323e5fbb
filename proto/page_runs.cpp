#include "proto/page_runs.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "proto/wire_format.hpp"

namespace wmd::proto {
namespace {

bool is_zero_stamp(const Timestamp& ts) {
  return ts.lamport == 0;
}

bool all_zero(std::span<const std::uint8_t> bytes, const VersionRun& run) {
  const std::uint8_t* p = bytes.data() + run.start;
  return std::all_of(p, p + (run.end - run.start), [](std::uint8_t b) { return b == 0; });
}

bool no_zero(std::span<const std::uint8_t> bytes, const VersionRun& run) {
  return std::memchr(bytes.data() + run.start, 0, run.end - run.start) == nullptr;
}

// Calls emit(length, sparse, ts) for each run of the wire form, in order. Greedy, hence
// unique: a run of timestamp T whose bytes are all non-zero swallows each following pair
// (never-written zero bytes, run of T with non-zero bytes); sparse when it swallowed any.
template <typename Emit>
void for_each_wire_run(std::span<const std::uint8_t> bytes, std::span<const VersionRun> versions,
                       Emit&& emit) {
  std::size_t i = 0;
  while (i < versions.size()) {
    const VersionRun& first = versions[i];
    std::uint32_t end = first.end;
    std::size_t next = i + 1;
    bool sparse = false;
    if (!is_zero_stamp(first.ts) && no_zero(bytes, first)) {
      while (next + 1 < versions.size() && is_zero_stamp(versions[next].ts) &&
             all_zero(bytes, versions[next]) && versions[next + 1].ts == first.ts &&
             no_zero(bytes, versions[next + 1])) {
        end = versions[next + 1].end;
        next += 2;
        sparse = true;
      }
    }
    emit(end - first.start, sparse, first.ts);
    i = next;
  }
}

std::uint64_t stamp_ref(const StampTable& stamps, const Timestamp& ts) {
  if (is_zero_stamp(ts)) return 0;
  auto it = std::lower_bound(stamps.begin(), stamps.end(), ts);
  assert(it != stamps.end() && *it == ts && "every timestamp is in the table");
  return static_cast<std::uint64_t>(it - stamps.begin()) + 1;
}

// Appends [start, end) of ts, merged into the last run when that has the same timestamp.
void append(std::vector<VersionRun>& out, std::uint32_t start, std::uint32_t end,
            const Timestamp& ts) {
  if (!out.empty() && out.back().ts == ts) {
    out.back().end = end;
    return;
  }
  out.push_back(VersionRun{start, end, ts});
}

// A sparse run's pieces: the zero bytes get the zero timestamp, the others ts. Zero bytes are
// the rare ones in the data this is for: memchr finds each.
void append_sparse(std::span<const std::uint8_t> bytes, std::uint32_t start, std::uint32_t end,
                   const Timestamp& ts, std::vector<VersionRun>& out) {
  static const Timestamp kZero{};
  std::uint32_t piece = start;
  while (piece < end) {
    const auto* zero =
        static_cast<const std::uint8_t*>(std::memchr(bytes.data() + piece, 0, end - piece));
    const std::uint32_t data_end =
        zero == nullptr ? end : static_cast<std::uint32_t>(zero - bytes.data());
    if (data_end > piece) append(out, piece, data_end, ts);
    std::uint32_t zeros_end = data_end;
    while (zeros_end < end && bytes[zeros_end] == 0) ++zeros_end;
    if (zeros_end > data_end) append(out, data_end, zeros_end, kZero);
    piece = zeros_end;
  }
}

}  // namespace

void encode_page_runs(std::span<const std::uint8_t> bytes, std::span<const VersionRun> versions,
                      const StampTable& stamps, ByteWriter& w) {
  const auto write_run = [&](std::uint32_t length, bool sparse, const Timestamp& ts) {
    w.varint(std::uint64_t{length} << 1 | (sparse ? 1 : 0));
    w.varint(stamp_ref(stamps, ts));
  };
  // The count goes first, so the runs are found before any is written: kept here when they
  // are few (a page of fresh data is one run), found again otherwise. Finding them reads the
  // page's bytes (memchr over each stretch), the encoder's and the decoder's main cost.
  struct WireRun {
    std::uint32_t length;
    bool sparse;
    const Timestamp* ts;
  };
  constexpr std::size_t kKeptRuns = 32;
  WireRun kept[kKeptRuns];
  std::size_t count = 0;
  for_each_wire_run(bytes, versions, [&](std::uint32_t length, bool sparse, const Timestamp& ts) {
    if (count < kKeptRuns) kept[count] = WireRun{length, sparse, &ts};
    ++count;
  });
  w.varint(count);
  if (count <= kKeptRuns) {
    for (std::size_t i = 0; i < count; ++i) write_run(kept[i].length, kept[i].sparse, *kept[i].ts);
    return;
  }
  for_each_wire_run(bytes, versions, write_run);
}

Status decode_page_runs(ByteReader& r, std::span<const std::uint8_t> bytes,
                        const StampTable& stamps, std::vector<bool>& stamp_used,
                        PageRunsScratch& scratch, std::vector<VersionRun>& out) {
  static const Timestamp kZero{};
  const auto page_size = static_cast<std::uint32_t>(bytes.size());
  const std::size_t mark = r.position();
  const std::uint64_t run_count = r.varint();
  if (!r.ok()) return r.error();
  if (run_count == 0 || run_count > page_size) return errc::malformed;
  if (!r.can_hold(run_count, kMinWireRunBytes)) return r.error();
  std::vector<VersionRun>& versions = scratch.versions;
  versions.clear();
  std::uint32_t position = 0;
  for (std::uint64_t i = 0; i < run_count; ++i) {
    const std::uint64_t head = r.varint();
    const std::uint64_t ref = r.varint();
    if (!r.ok()) return r.error();
    const std::uint64_t length = head >> 1;
    const bool sparse = (head & 1) != 0;
    if (length == 0 || length > page_size - position) return errc::malformed;
    if (ref > stamps.size() || (sparse && ref == 0)) return errc::malformed;
    const auto end = static_cast<std::uint32_t>(position + length);
    const Timestamp& ts = ref == 0 ? kZero : stamps[ref - 1];
    if (ref != 0) stamp_used[ref - 1] = true;
    if (sparse) {
      append_sparse(bytes, position, end, ts, versions);
    } else {
      append(versions, position, end, ts);
    }
    position = end;
  }
  if (position != page_size) return errc::malformed;
  // One wire form per state: what we read must be what the encoder writes for what we got.
  std::vector<std::uint8_t>& canonical = scratch.encoded;
  canonical.clear();
  ByteWriter w(canonical);
  encode_page_runs(bytes, versions, stamps, w);
  const auto read = r.consumed_since(mark);
  if (canonical.size() != read.size() ||
      std::memcmp(canonical.data(), read.data(), read.size()) != 0) {
    return errc::malformed;
  }
  out.assign(versions.begin(), versions.end());
  return {};
}

}  // namespace wmd::proto
