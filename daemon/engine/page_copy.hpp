// Copying a whole page of applied bytes into both the replicated memory and the shadow in one
// pass over the source, with non-temporal stores where the CPU has them, so bulk applies are
// bound by one read and two writes instead of two read-for-ownership copies.
// Thread-safety: pure function; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace wmd::engine_detail {

// Copies length bytes of src to first and second. Stores may still be in flight (write
// combining) on return: call copy_fence() before publishing anything that depends on them.
void copy_to_both(std::uint8_t* first, std::uint8_t* second, const std::uint8_t* src,
                  std::size_t length);
void copy_fence();

}  // namespace wmd::engine_detail
