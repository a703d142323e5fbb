// Single atomic loads and stores on plain integer fields of the engine's state storage, which may
// be shared memory that another process reads (wmdctl, a resuming daemon). The engine only ever
// loads and stores through these; it never needs read-modify-write.
//
// Why not std::atomic_ref: it is what this expresses, but libc++ 14 (the WebAssembly build's
// standard library) lacks it. The compiler builtins below are what atomic_ref compiles to on g++
// and clang, on every target.
// Thread-safety: each call is one atomic access of `object`.
#pragma once

#include <type_traits>

namespace wmd::engine_detail {

template <class T>
concept AtomicWord = std::is_integral_v<T> &&(sizeof(T) == 4 || sizeof(T) == 8);

// REQUIRES for all: object is naturally aligned.
template <AtomicWord T>
void store_release(T& object, T value) noexcept {
  __atomic_store_n(&object, value, __ATOMIC_RELEASE);
}

template <AtomicWord T>
void store_relaxed(T& object, T value) noexcept {
  __atomic_store_n(&object, value, __ATOMIC_RELAXED);
}

template <AtomicWord T>
T load_relaxed(const T& object) noexcept {
  return __atomic_load_n(&object, __ATOMIC_RELAXED);
}

}  // namespace wmd::engine_detail
