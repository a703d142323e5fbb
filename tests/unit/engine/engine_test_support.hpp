// Test helpers for the engine: a replica with heap memory and heap state storage.
// Thread-safety: single-threaded test code.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.hpp"

namespace wmd::test {

// A replica whose memory is a heap buffer reserved for the max size (growth hands out a
// longer prefix) and whose state storage is a zeroed heap buffer.
struct Replica {
  EngineConfig config;
  std::vector<std::uint8_t> memory;  // max size; bytes past the size stay zero
  std::vector<std::uint8_t> state;
  std::unique_ptr<Engine> engine;
  std::vector<Patch> emitted;  // everything on_diff reported
  std::vector<std::uint64_t> growths;

  Replica(EngineConfig c, std::uint64_t initial_size_bytes) : config(std::move(c)) {
    auto required = Engine::state_bytes_required(config);
    REQUIRE(required.ok());
    const std::uint64_t max_size = (config.max_size_bytes + config.page_size_bytes - 1) /
                                   config.page_size_bytes * config.page_size_bytes;
    memory.assign(max_size, 0);
    state.assign(*required, 0);
    open(initial_size_bytes);
  }

  // (Re)creates the engine over the same memory and state (a restart).
  void open(std::uint64_t memory_size_bytes) {
    engine.reset();
    auto created = Engine::create(config, std::span(memory.data(), memory_size_bytes),
                                  std::span(state), grower());
    REQUIRE_MESSAGE(created.ok(), created.error().message());
    engine = std::move(created).value();
    engine->on_diff([this](const Patch& p) { emitted.push_back(p); });
    engine->on_growth([this](std::uint64_t size) { growths.push_back(size); });
  }

  GrowFn grower() {
    return [this](std::uint64_t size) -> Result<std::span<std::uint8_t>> {
      if (size > memory.size()) return errc::beyond_max_size;
      return std::span(memory.data(), size);
    };
  }

  void write(std::uint64_t offset, const std::vector<std::uint8_t>& bytes) {
    // With no engine running (the daemon is down) the runtime still writes its memory.
    REQUIRE(offset + bytes.size() <= (engine ? engine->size_bytes() : memory.size()));
    std::copy(bytes.begin(), bytes.end(), memory.begin() + static_cast<std::ptrdiff_t>(offset));
  }
  std::vector<std::uint8_t> read(std::uint64_t offset, std::uint64_t length) const {
    return {memory.begin() + static_cast<std::ptrdiff_t>(offset),
            memory.begin() + static_cast<std::ptrdiff_t>(offset + length)};
  }
  std::vector<std::uint8_t> contents() const { return read(0, engine->size_bytes()); }
};

inline EngineConfig small_config(const std::string& peer,
                                 std::uint64_t max_size_bytes = 64 * 1024) {
  EngineConfig c;
  c.page_size_bytes = 4096;
  c.peer_id = peer;
  c.max_size_bytes = max_size_bytes;
  c.max_peers = 16;
  c.version_pool_blocks = 256;
  return c;
}

inline Patch make_patch(const std::string& origin, std::uint64_t seq, std::uint64_t lamport,
                        std::vector<std::pair<std::uint64_t, std::vector<std::uint8_t>>> runs) {
  Patch p;
  p.origin = origin;
  p.seq = seq;
  p.lamport = lamport;
  for (auto& [offset, bytes] : runs) {
    p.runs.push_back(Run{offset, static_cast<std::uint32_t>(bytes.size())});
    p.bytes.insert(p.bytes.end(), bytes.begin(), bytes.end());
  }
  return p;
}

inline std::vector<std::uint8_t> filled(std::size_t n, std::uint8_t value) {
  return std::vector<std::uint8_t>(n, value);
}

}  // namespace wmd::test
