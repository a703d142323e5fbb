#include "shm/status_block.hpp"

#include <sched.h>

#include <atomic>
#include <cstdint>
#include <cstring>

namespace wmd::core {
namespace {

constexpr std::size_t kWords = sizeof(wmd_ctl_status) / sizeof(std::uint64_t);
constexpr int kReadAttempts = 10000;

// The block is shared with other processes, so every word is accessed atomically. No fences
// (ThreadSanitizer does not model them): data words are stored with release and loaded with
// acquire, so a reader that sees any word of an update in progress also sees the odd sequence
// number stored before it, and its final load of the sequence number cannot move above them.
// On x86 these orders cost nothing over relaxed.
std::atomic_ref<std::uint64_t> word(const wmd_ctl_status* block, std::size_t index) {
  auto* words = reinterpret_cast<std::uint64_t*>(const_cast<wmd_ctl_status*>(block));
  return std::atomic_ref<std::uint64_t>(words[index]);
}

}  // namespace

void write_status(wmd_ctl_status* shared_block, const wmd_ctl_status& status) {
  auto seq = word(shared_block, 0);
  const std::uint64_t start = seq.load(std::memory_order_relaxed) | 1;  // odd: writing
  seq.store(start, std::memory_order_relaxed);
  const auto* source = reinterpret_cast<const unsigned char*>(&status);
  for (std::size_t i = 1; i < kWords; ++i) {
    std::uint64_t value = 0;
    std::memcpy(&value, source + i * sizeof value, sizeof value);
    word(shared_block, i).store(value, std::memory_order_release);
  }
  seq.store(start + 1, std::memory_order_release);  // even: stable
}

bool read_status(const wmd_ctl_status* shared_block, wmd_ctl_status* out) {
  auto* target = reinterpret_cast<unsigned char*>(out);
  for (int attempt = 0; attempt < kReadAttempts; ++attempt) {
    const std::uint64_t before = word(shared_block, 0).load(std::memory_order_acquire);
    if (before & 1) {
      sched_yield();
      continue;
    }
    for (std::size_t i = 1; i < kWords; ++i) {
      const std::uint64_t value = word(shared_block, i).load(std::memory_order_acquire);
      std::memcpy(target + i * sizeof value, &value, sizeof value);
    }
    if (word(shared_block, 0).load(std::memory_order_relaxed) == before) {
      std::memcpy(target, &before, sizeof before);
      // Never trust the writer's strings or count: terminate and clamp.
      out->tracking_mode[WMD_TRACKING_MODE_BYTES - 1] = '\0';
      out->last_error[WMD_LAST_ERROR_BYTES - 1] = '\0';
      if (out->peer_count > WMD_MAX_PEERS) out->peer_count = WMD_MAX_PEERS;
      for (auto& peer : out->peers) peer.peer_id[WMD_PEER_ID_BYTES - 1] = '\0';
      return true;
    }
  }
  return false;
}

}  // namespace wmd::core
