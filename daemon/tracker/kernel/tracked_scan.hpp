// wmd::kernel::tracked_scan: one change-detection round of the daemon's engine thread with
// kernel dirty tracking, i.e. KernelTracker's round protocol applied to the engine:
//   kernel round:  the engine absorbs only the pages the writers' kernels reported;
//   audit round:   a kernel round that also hash-compares every page, asks the kernel again
//                  (what a registered writer wrote while the audit hashed is the kernel's),
//                  absorbs everything that changed and counts the pages the kernel path had not
//                  reported;
//   hash round:    HashTracker's full scan (no kernel tracking, a writer not kernel-tracked,
//                  or writers changed since the previous round).
// It replaces the daemon's `HashTracker::scan(engine, &stats)` call; the patches go to
// engine.on_diff as usual.
//
// Thread-safety: the engine's owner thread only (as HashTracker::scan). The audit hashes the
// two halves of the segment on two threads, like HashTracker, for large segments.
#pragma once

#include <chrono>
#include <span>
#include <string_view>
#include <vector>

#include "engine/engine.hpp"
#include "daemon/tracker/hash_tracker.hpp"
#include "daemon/tracker/kernel/kernel_tracker.hpp"

namespace wmd::kernel {

enum class RoundKind { kernel, audit, hash };
std::string_view to_string(RoundKind kind);

struct TrackedScanReport {
  RoundKind kind = RoundKind::hash;
  ScanStats stats;                   // pages_checked: pages hashed this round
  std::uint64_t audit_findings = 0;  // audit rounds: changed pages the kernel had not reported
  std::vector<WriterEvent> events;   // log each with describe(event), once
  std::string_view hash_reason;      // hash rounds: why
};

// REQUIRES: `writers` is the segment's registry now (Segment::writers()); `kernel` was
// configured with the engine's page size.
TrackedScanReport tracked_scan(Engine& engine, KernelTracker& kernel,
                               const tracker::HashTracker& hash,
                               std::span<const WriterRecord> writers,
                               std::chrono::steady_clock::time_point now,
                               std::uint64_t parallel_threshold_bytes = 64ull << 20);

// tracked_scan() after its first step: applies a round that kernel.collect() returned a moment
// ago (tests use it to put a writer's writes between the steps).
// REQUIRES: `round` is the latest kernel.collect() result, not applied yet.
TrackedScanReport apply_round(Engine& engine, KernelTracker& kernel,
                              const tracker::HashTracker& hash, CollectRound round,
                              std::uint64_t parallel_threshold_bytes = 64ull << 20);

}  // namespace wmd::kernel
