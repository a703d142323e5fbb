// Byte diff of one page against its shadow copy, producing runs of changed bytes.
// Thread-safety: pure function; safe from any thread.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/version_list.hpp"

namespace wmd::engine_detail {

// Appends to out the page-local ranges where current differs from shadow, sorted. Two runs
// separated by at most max_gap_bytes equal bytes are reported as one range (the gap re-sent).
// payload_offset of the ranges is left 0.
void diff_page(const std::uint8_t* current, const std::uint8_t* shadow, std::uint32_t length,
               std::uint32_t max_gap_bytes, std::vector<PageRange>& out);

}  // namespace wmd::engine_detail
