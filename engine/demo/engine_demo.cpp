// wmd-demo (engine edition): three replicas of a small memory in one process, each writing
// its own pattern and racing on shared bytes, with patches delivered late, shuffled,
// duplicated and dropped. Catch-up heals the drops. Shows the memory converging frame by frame
// and exits non-zero if the replicas end up different.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "engine/engine.hpp"

namespace {

constexpr std::uint32_t kPageSize = 4096;
constexpr std::uint64_t kMemoryBytes = 4 * kPageSize;
constexpr int kGridWidth = 64;
constexpr int kGridHeight = 8;

struct Replica {
  std::string name;
  std::vector<std::uint8_t> memory;
  std::vector<std::uint8_t> state;
  std::unique_ptr<wmd::Engine> engine;
  std::deque<wmd::Patch> outbox;
};

std::unique_ptr<Replica> make_replica(const std::string& name) {
  auto replica = std::make_unique<Replica>();
  replica->name = name;
  wmd::EngineConfig config;
  config.page_size_bytes = kPageSize;
  config.peer_id = name;
  config.max_size_bytes = kMemoryBytes;
  auto state_bytes = wmd::Engine::state_bytes_required(config);
  if (!state_bytes) {
    std::fprintf(stderr, "demo: %s\n", state_bytes.error().message().c_str());
    std::exit(1);
  }
  replica->memory.assign(kMemoryBytes, 0);
  replica->state.assign(*state_bytes, 0);
  Replica* self = replica.get();
  auto engine = wmd::Engine::create(config, self->memory, self->state,
                                    [self](std::uint64_t) -> wmd::Result<std::span<std::uint8_t>> {
                                      return std::span<std::uint8_t>(self->memory);
                                    });
  if (!engine) {
    std::fprintf(stderr, "demo: %s\n", engine.error().message().c_str());
    std::exit(1);
  }
  replica->engine = std::move(engine).value();
  replica->engine->on_diff([self](const wmd::Patch& patch) { self->outbox.push_back(patch); });
  return replica;
}

// One cell of the grid is one byte of the first page; shows which replica wrote it last.
void render(const std::vector<std::unique_ptr<Replica>>& replicas, int frame) {
  std::printf("\nframe %d\n", frame);
  for (int row = 0; row < kGridHeight; ++row) {
    for (const auto& replica : replicas) {
      for (int col = 0; col < kGridWidth / 2; ++col) {
        std::uint8_t value = replica->memory[static_cast<std::size_t>(row * kGridWidth + col)];
        std::putchar(value == 0 ? '.' : static_cast<char>('A' + (value - 1) % 26));
      }
      std::printf("   ");
    }
    std::putchar('\n');
  }
}

}  // namespace

int main() {
  std::vector<std::unique_ptr<Replica>> replicas;
  for (const char* name : {"alpha", "bravo", "charlie"}) replicas.push_back(make_replica(name));
  std::mt19937_64 rng(2026);
  std::printf("wmd engine demo: 3 replicas, %llu bytes each, page size %u\n",
              static_cast<unsigned long long>(kMemoryBytes), kPageSize);
  std::printf("columns: alpha | bravo | charlie (letter = which replica wrote the byte last)\n");

  for (int frame = 1; frame <= 6; ++frame) {
    // Every replica writes a streak of bytes, often on the same bytes as the others.
    for (std::size_t r = 0; r < replicas.size(); ++r) {
      for (int stroke = 0; stroke < 6; ++stroke) {
        std::size_t offset = rng() % (kGridHeight * kGridWidth - 8);
        std::size_t length = 1 + rng() % 8;
        for (std::size_t i = 0; i < length; ++i) {
          replicas[r]->memory[offset + i] = static_cast<std::uint8_t>(r + 1);
        }
      }
      replicas[r]->engine->scan();
    }
    // Deliver patches shuffled, some twice, some dropped (1 in 5).
    for (auto& sender : replicas) {
      std::vector<wmd::Patch> patches(sender->outbox.begin(), sender->outbox.end());
      sender->outbox.clear();
      std::shuffle(patches.begin(), patches.end(), rng);
      for (auto& receiver : replicas) {
        if (receiver == sender) continue;
        for (const auto& patch : patches) {
          if (rng() % 5 == 0) continue;
          int copies = rng() % 4 == 0 ? 2 : 1;
          for (int c = 0; c < copies; ++c) {
            if (auto applied = receiver->engine->apply(patch); !applied) {
              std::fprintf(stderr, "apply failed: %s\n", applied.error().message().c_str());
              return 1;
            }
          }
        }
      }
    }
    render(replicas, frame);
  }

  // Catch-up: exchange every page whose digest differs, both ways, until quiet.
  std::printf("\ncatch-up: exchanging page states for pages whose digests differ\n");
  std::uint64_t pages_sent = 0;
  for (auto& a : replicas) {
    for (auto& b : replicas) {
      if (a == b) continue;
      for (std::uint64_t page = 0; page < a->engine->page_count(); ++page) {
        if (a->engine->page_digest(page) == b->engine->page_digest(page)) continue;
        auto state = a->engine->export_page(page);
        if (!state || !b->engine->merge_page(*state)) return 1;
        ++pages_sent;
      }
    }
  }
  for (auto& r : replicas) r->outbox.clear();
  render(replicas, 7);

  bool identical = true;
  for (auto& r : replicas) {
    identical = identical && r->memory == replicas[0]->memory;
    for (std::uint64_t page = 0; page < r->engine->page_count(); ++page) {
      identical =
          identical && r->engine->page_digest(page) == replicas[0]->engine->page_digest(page);
    }
  }
  std::printf("\n%llu page states exchanged; replicas %s\n",
              static_cast<unsigned long long>(pages_sent),
              identical ? "are byte- and version-identical" : "DIFFER");
  return identical ? 0 : 1;
}
