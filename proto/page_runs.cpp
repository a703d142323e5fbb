#include "proto/page_runs.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "proto/wire_format.hpp"
#include "proto/zero_stretches.hpp"

namespace wmd::proto {
namespace {

// The two forms of a run, as the wire form sees them: where it is, and whether it has the zero
// timestamp or the same one as another run.
bool is_zero_stamp(const VersionRun& run) {
  return run.ts.lamport == 0;
}
bool is_zero_stamp(const StampedRun& run) {
  return run.stamp == 0;
}
bool same_stamp(const VersionRun& a, const VersionRun& b) {
  return a.ts == b.ts;
}
bool same_stamp(const StampedRun& a, const StampedRun& b) {
  return a.stamp == b.stamp;
}

// Calls emit(length, sparse, first) for each run of the wire form, in order, `first` the run
// whose timestamp it carries. Greedy, hence unique: a run of timestamp T whose bytes are all
// non-zero swallows each following pair (never-written zero bytes, run of T with non-zero
// bytes); sparse when it swallowed any.
template <typename Run, typename Emit>
void for_each_wire_run(ZeroStretches& zeros, std::span<const Run> versions, Emit&& emit) {
  std::size_t i = 0;
  while (i < versions.size()) {
    const Run& first = versions[i];
    std::uint32_t end = first.end;
    std::size_t next = i + 1;
    bool sparse = false;
    if (!is_zero_stamp(first) && !zeros.any_zero(first.start, first.end)) {
      while (next + 1 < versions.size() && is_zero_stamp(versions[next]) &&
             zeros.all_zero(versions[next].start, versions[next].end) &&
             same_stamp(versions[next + 1], first) &&
             !zeros.any_zero(versions[next + 1].start, versions[next + 1].end)) {
        end = versions[next + 1].end;
        next += 2;
        sparse = true;
      }
    }
    emit(end - first.start, sparse, first);
    i = next;
  }
}

// Writes the run count, then each wire run with the table reference stamp_of(run) gives.
// The count goes first, so the runs are found before any is written: kept here when they
// are few (a page of fresh data is one run), found again otherwise (from the zero stretches,
// without reading the page again).
template <typename Run, typename StampOf>
void write_wire_runs(ZeroStretches& zeros, std::span<const Run> versions, StampOf&& stamp_of,
                     ByteWriter& w) {
  const auto write_run = [&](std::uint32_t length, bool sparse, const Run& first) {
    w.varint(std::uint64_t{length} << 1 | (sparse ? 1 : 0));
    w.varint(stamp_of(first));
  };
  struct WireRun {
    std::uint32_t length;
    bool sparse;
    const Run* first;
  };
  constexpr std::size_t kKeptRuns = 32;
  WireRun kept[kKeptRuns];
  std::size_t count = 0;
  for_each_wire_run(zeros, versions, [&](std::uint32_t length, bool sparse, const Run& first) {
    if (count < kKeptRuns) kept[count] = WireRun{length, sparse, &first};
    ++count;
  });
  w.varint(count);
  if (count <= kKeptRuns) {
    for (std::size_t i = 0; i < count; ++i)
      write_run(kept[i].length, kept[i].sparse, *kept[i].first);
    return;
  }
  for_each_wire_run(zeros, versions, write_run);
}

// Appends [start, end) of stamp, merged into the last run when that has the same stamp.
// `first` is where the page's runs begin in out.
void append(std::vector<StampedRun>& out, std::size_t first, std::uint32_t start, std::uint32_t end,
            std::uint32_t stamp) {
  if (out.size() > first && out.back().stamp == stamp) {
    out.back().end = end;
    return;
  }
  out.push_back(StampedRun{start, end, stamp});
}

// A sparse run's pieces: the zero bytes get the zero timestamp, the others stamp.
void append_sparse(ZeroStretches& zeros, std::uint32_t start, std::uint32_t end,
                   std::uint32_t stamp, std::vector<StampedRun>& out, std::size_t first) {
  std::uint32_t piece = start;
  zeros.for_each_within(start, end, [&](std::uint32_t zero_start, std::uint32_t zero_end) {
    if (zero_start > piece) append(out, first, piece, zero_start, stamp);
    append(out, first, zero_start, zero_end, 0);
    piece = zero_end;
  });
  if (end > piece) append(out, first, piece, end, stamp);
}

void write_stamped_runs(ZeroStretches& zeros, std::span<const StampedRun> runs, ByteWriter& w) {
  write_wire_runs(
      zeros, runs, [](const StampedRun& run) { return std::uint64_t{run.stamp}; }, w);
}

}  // namespace

void encode_page_runs(std::span<const std::uint8_t> bytes, std::span<const VersionRun> versions,
                      const StampTable& stamps, PageRunsScratch& scratch, ByteWriter& w) {
  const auto stamp_of = [&stamps](const VersionRun& run) -> std::uint64_t {
    if (is_zero_stamp(run)) return 0;
    auto it = std::lower_bound(stamps.begin(), stamps.end(), run.ts);
    assert(it != stamps.end() && *it == run.ts && "every timestamp is in the table");
    return static_cast<std::uint64_t>(it - stamps.begin()) + 1;
  };
  scratch.zeros.find(bytes);
  write_wire_runs(scratch.zeros, versions, stamp_of, w);
}

void encode_page_runs(std::span<const std::uint8_t> bytes, std::span<const StampedRun> runs,
                      PageRunsScratch& scratch, ByteWriter& w) {
  scratch.zeros.find(bytes);
  write_stamped_runs(scratch.zeros, runs, w);
}

Status decode_page_runs(ByteReader& r, std::span<const std::uint8_t> bytes, std::size_t stamp_count,
                        std::vector<bool>& stamp_used, PageRunsScratch& scratch,
                        std::vector<StampedRun>& out) {
  const auto page_size = static_cast<std::uint32_t>(bytes.size());
  const std::size_t mark = r.position();
  const std::uint64_t run_count = r.varint();
  if (!r.ok()) return r.error();
  if (run_count == 0 || run_count > page_size) return errc::malformed;
  if (!r.can_hold(run_count, kMinWireRunBytes)) return r.error();
  const std::size_t first = out.size();
  // Found once, for the sparse runs' pieces and the canonical form's questions.
  scratch.zeros.find(bytes);
  std::uint32_t position = 0;
  for (std::uint64_t i = 0; i < run_count; ++i) {
    const std::uint64_t head = r.varint();
    const std::uint64_t ref = r.varint();
    if (!r.ok()) return r.error();
    const std::uint64_t length = head >> 1;
    const bool sparse = (head & 1) != 0;
    if (length == 0 || length > page_size - position) return errc::malformed;
    if (ref > stamp_count || (sparse && ref == 0)) return errc::malformed;
    const auto end = static_cast<std::uint32_t>(position + length);
    const auto stamp = static_cast<std::uint32_t>(ref);
    if (ref != 0) stamp_used[ref - 1] = true;
    if (sparse) {
      append_sparse(scratch.zeros, position, end, stamp, out, first);
    } else {
      append(out, first, position, end, stamp);
    }
    position = end;
  }
  if (position != page_size) return errc::malformed;
  // One wire form per state: what we read must be what the encoder writes for what we got.
  std::vector<std::uint8_t>& canonical = scratch.encoded;
  canonical.clear();
  ByteWriter w(canonical);
  write_stamped_runs(scratch.zeros,
                     std::span<const StampedRun>(out.data() + first, out.size() - first), w);
  const auto read = r.consumed_since(mark);
  if (canonical.size() != read.size() ||
      std::memcmp(canonical.data(), read.data(), read.size()) != 0) {
    return errc::malformed;
  }
  return {};
}

}  // namespace wmd::proto
