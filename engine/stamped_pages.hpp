// Conversions between page states with their timestamps inline (PageState) and page states that
// name the entries of a shared table (StampedPageStates, engine/types.hpp): the merge and the
// catch-up codec work on the table form; callers that build or read page states one by one (the
// Node and browser bindings, tests) keep PageState.
// Thread-safety: pure functions.
#pragma once

#include <span>
#include <vector>

#include "engine/types.hpp"

namespace wmd {

// The table form of `states`, in their order: the table holds every distinct timestamp the
// runs name other than the zero timestamp {0, ""}, sorted. Runs are copied as they are, invalid
// ones included (whoever takes the result validates it, as for a PageState).
StampedPageStates to_stamped(std::span<const PageState> states);

// Sorts batch.stamps, renumbering the runs' stamps to match: a table built in the order its
// entries were met becomes a valid one. REQUIRES: entries distinct, every stamp in the table.
void sort_stamp_table(StampedPageStates& batch);

// Page `index` of `batch` with its timestamps inline.
// REQUIRES: the page's runs and their stamps are within the batch (a decoded or exported batch).
PageState to_page_state(const StampedPageStates& batch, std::size_t index);
std::vector<PageState> to_page_states(const StampedPageStates& batch);

}  // namespace wmd
