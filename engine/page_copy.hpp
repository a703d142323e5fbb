// Copying a whole page of applied bytes into both the replicated memory and the shadow in one
// pass over the source, with non-temporal stores where the CPU has them, so bulk applies are
// bound by one read and two writes instead of two read-for-ownership copies.
// Thread-safety: pure functions; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace wmd::engine_detail {

// Copies length bytes of src to first and second. Stores may still be in flight (write
// combining) on return: call copy_fence() before publishing anything that depends on them.
void copy_to_both(std::uint8_t* first, std::uint8_t* second, const std::uint8_t* src,
                  std::size_t length);

// As copy_to_both, and returns hash_bytes(src, length) (XXH3-64), computed in the same pass:
// each chunk of src is hashed and stored while it is still in L1, so the hash's loads from
// DRAM overlap the streaming stores instead of running as a separate phase before them.
std::uint64_t copy_to_both_hashed(std::uint8_t* first, std::uint8_t* second,
                                  const std::uint8_t* src, std::size_t length);

void copy_fence();

}  // namespace wmd::engine_detail
