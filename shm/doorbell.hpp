// Doorbells: futex(2) wait and wake on 32-bit words of the shared control object, across
// processes (no FUTEX_PRIVATE_FLAG), used for flush requests, flush completion and
// remote-applied notifications (protocol in <wmd/segment_layout.h>).
// Thread-safety: safe from any thread of any process mapping the word.
#pragma once

#include <chrono>
#include <cstdint>

namespace wmd::core {

// Sleeps while *word == expected, at most timeout. Returns early on a wake, a signal or a
// changed value; callers re-check their condition in a loop.
void futex_wait(std::uint32_t* word, std::uint32_t expected, std::chrono::nanoseconds timeout);
void futex_wake_all(std::uint32_t* word);

// Loads a doorbell word (acquire).
std::uint32_t doorbell_load(std::uint32_t* word);
// Increments a doorbell word and wakes its waiters; returns the new value.
std::uint32_t doorbell_ring(std::uint32_t* word);
// Stores value and wakes the waiters.
void doorbell_store(std::uint32_t* word, std::uint32_t value);

// True when counter has reached ticket, with wrap-around (serial number arithmetic).
inline bool reached(std::uint32_t counter, std::uint32_t ticket) {
  return static_cast<std::int32_t>(counter - ticket) >= 0;
}

}  // namespace wmd::core
