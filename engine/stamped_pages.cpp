#include "engine/stamped_pages.hpp"

#include <algorithm>
#include <cassert>

namespace wmd {
namespace {

bool is_zero(const Timestamp& ts) {
  return ts.lamport == 0 && ts.peer.empty();
}

}  // namespace

StampedPageStates to_stamped(std::span<const PageState> states) {
  StampedPageStates batch;
  for (const PageState& state : states) {
    for (const VersionRun& run : state.versions) {
      if (!is_zero(run.ts)) batch.stamps.push_back(run.ts);
    }
  }
  std::sort(batch.stamps.begin(), batch.stamps.end());
  batch.stamps.erase(std::unique(batch.stamps.begin(), batch.stamps.end()), batch.stamps.end());
  batch.pages.reserve(states.size());
  for (const PageState& state : states) {
    StampedPage& page = batch.pages.emplace_back();
    page.page_index = state.page_index;
    page.bytes = state.bytes;
    page.first_run = static_cast<std::uint32_t>(batch.runs.size());
    page.run_count = static_cast<std::uint32_t>(state.versions.size());
    for (const VersionRun& run : state.versions) {
      std::uint32_t stamp = 0;
      if (!is_zero(run.ts)) {
        const auto it = std::lower_bound(batch.stamps.begin(), batch.stamps.end(), run.ts);
        stamp = static_cast<std::uint32_t>(it - batch.stamps.begin()) + 1;
      }
      batch.runs.push_back(StampedRun{run.start, run.end, stamp});
    }
  }
  return batch;
}

void sort_stamp_table(StampedPageStates& batch) {
  if (std::is_sorted(batch.stamps.begin(), batch.stamps.end())) return;
  std::vector<std::uint32_t> order(batch.stamps.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&batch](std::uint32_t a, std::uint32_t b) {
    return batch.stamps[a] < batch.stamps[b];
  });
  std::vector<std::uint32_t> renumbered(order.size() + 1, 0);  // old stamp -> new stamp
  std::vector<Timestamp> sorted;
  sorted.reserve(order.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) {
    renumbered[order[i] + 1] = i + 1;
    sorted.push_back(std::move(batch.stamps[order[i]]));
  }
  batch.stamps = std::move(sorted);
  for (StampedRun& run : batch.runs) {
    assert(run.stamp < renumbered.size());
    run.stamp = renumbered[run.stamp];
  }
}

PageState to_page_state(const StampedPageStates& batch, std::size_t index) {
  static const Timestamp kZero{};
  const StampedPage& page = batch.pages[index];
  assert(std::size_t{page.first_run} + page.run_count <= batch.runs.size());
  PageState state;
  state.page_index = page.page_index;
  state.bytes = page.bytes;
  state.versions.reserve(page.run_count);
  for (std::uint32_t i = page.first_run; i < page.first_run + page.run_count; ++i) {
    const StampedRun& run = batch.runs[i];
    assert(run.stamp <= batch.stamps.size());
    state.versions.push_back(
        VersionRun{run.start, run.end, run.stamp == 0 ? kZero : batch.stamps[run.stamp - 1]});
  }
  return state;
}

std::vector<PageState> to_page_states(const StampedPageStates& batch) {
  std::vector<PageState> states;
  states.reserve(batch.pages.size());
  for (std::size_t i = 0; i < batch.pages.size(); ++i) states.push_back(to_page_state(batch, i));
  return states;
}

}  // namespace wmd
