#include "engine/version_list.hpp"

#include <algorithm>

namespace wmd::engine_detail {
namespace {

// Appends [start, end) -> ts, merging with the previous entry when the stamps are equal.
void append(VersionList& out, std::uint32_t start, std::uint32_t end, Stamp ts) {
  if (start == end) return;
  if (!out.empty() && out.back().ts == ts && out.back().end == start) {
    out.back().end = end;
    return;
  }
  out.push_back(VersionEntry{start, end, ts});
}

void append_range(std::vector<PageRange>& out, std::uint32_t start, std::uint32_t end,
                  std::uint64_t payload_offset) {
  if (!out.empty() && out.back().end == start &&
      out.back().payload_offset + (out.back().end - out.back().start) == payload_offset) {
    out.back().end = end;
    return;
  }
  out.push_back(PageRange{start, end, payload_offset});
}

}  // namespace

VersionList zero_version_list(std::uint32_t page_size_bytes) {
  return VersionList{VersionEntry{0, page_size_bytes, Stamp{}}};
}

bool is_zero_version_list(const VersionList& list) {
  return list.size() == 1 && list[0].ts == Stamp{};
}

bool is_canonical(const VersionList& list, std::uint32_t page_size_bytes) {
  if (list.empty() || list.front().start != 0 || list.back().end != page_size_bytes) return false;
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (list[i].start >= list[i].end) return false;
    if (i > 0 && (list[i].start != list[i - 1].end || list[i].ts == list[i - 1].ts)) return false;
  }
  return true;
}

void overlay(const VersionList& old, std::span<const PageRange> ranges, Stamp ts,
             bool only_if_newer, const StampOrder& order, VersionList& out,
             std::vector<PageRange>* written) {
  out.clear();
  out.reserve(old.size() + 2 * ranges.size());
  std::size_t i = 0;  // old entry
  std::size_t j = 0;  // range
  std::uint32_t pos = 0;
  while (i < old.size()) {
    const VersionEntry& e = old[i];
    if (j == ranges.size() || ranges[j].start >= e.end) {
      append(out, pos, e.end, e.ts);
      pos = e.end;
      ++i;
      continue;
    }
    const PageRange& r = ranges[j];
    if (r.start > pos) {
      append(out, pos, r.start, e.ts);
      pos = r.start;
      continue;
    }
    const std::uint32_t seg_end = std::min(e.end, r.end);
    const bool replace = !only_if_newer || order.less(e.ts, ts);
    append(out, pos, seg_end, replace ? ts : e.ts);
    if (replace && written != nullptr) {
      append_range(*written, pos, seg_end, r.payload_offset + (pos - r.start));
    }
    pos = seg_end;
    if (pos == r.end) ++j;
    if (pos == e.end) ++i;
  }
}

void merge_max(const VersionList& local, const VersionList& remote, const StampOrder& order,
               VersionList& out, std::vector<PageRange>& taken) {
  out.clear();
  out.reserve(local.size() + remote.size());
  std::size_t i = 0;
  std::size_t j = 0;
  std::uint32_t pos = 0;
  while (i < local.size() && j < remote.size()) {
    const std::uint32_t seg_end = std::min(local[i].end, remote[j].end);
    const bool take = order.less(local[i].ts, remote[j].ts);
    append(out, pos, seg_end, take ? remote[j].ts : local[i].ts);
    if (take) append_range(taken, pos, seg_end, pos);
    pos = seg_end;
    if (pos == local[i].end) ++i;
    if (pos == remote[j].end) ++j;
  }
}

}  // namespace wmd::engine_detail
