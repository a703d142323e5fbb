// Crash safety for real: a child process runs the engine over shared mappings and is killed
// with SIGKILL at a random point; an engine resumed over the same storage must repair what
// the kill tore and still converge with a replica that saw the same patches.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <random>

#include "tests/unit/engine/engine_test_support.hpp"

namespace wmd::test {
namespace {

class SharedMapping {
 public:
  explicit SharedMapping(std::size_t bytes) : bytes_(bytes) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(p != MAP_FAILED);
    data_ = static_cast<std::uint8_t*>(p);
  }
  ~SharedMapping() { munmap(data_, bytes_); }
  SharedMapping(const SharedMapping&) = delete;
  SharedMapping& operator=(const SharedMapping&) = delete;
  std::uint8_t* data() const { return data_; }
  std::span<std::uint8_t> span() const { return {data_, bytes_}; }

 private:
  std::uint8_t* data_;
  std::size_t bytes_;
};

std::vector<Patch> remote_patches(std::mt19937_64& rng, std::uint64_t max_size_bytes) {
  std::vector<Patch> patches;
  std::uint64_t seq[2] = {0, 0};
  for (int k = 0; k < 60; ++k) {
    const int who = static_cast<int>(rng() % 2);
    std::vector<std::pair<std::uint64_t, std::vector<std::uint8_t>>> runs;
    std::uint64_t offset = rng() % (max_size_bytes / 2);
    for (int r = static_cast<int>(rng() % 4); r >= 0 && offset < max_size_bytes; --r) {
      const std::uint64_t length =
          std::min<std::uint64_t>(1 + rng() % 9000, max_size_bytes - offset);
      std::vector<std::uint8_t> bytes(length);
      for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
      runs.emplace_back(offset, std::move(bytes));
      offset += length + 1 + rng() % 5000;
    }
    // A real origin never reuses a timestamp for different bytes: lamports grow per patch.
    patches.push_back(make_patch(who == 0 ? "b" : "c", ++seq[who], 1 + 2 * k, runs));
  }
  return patches;
}

// The killed process: random local writes, scans, remote patches and growth, forever.
[[noreturn]] void child_main(const EngineConfig& config, const SharedMapping& memory,
                             std::span<std::uint8_t> state, const std::vector<Patch>& patches,
                             std::atomic<std::uint64_t>* progress, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const std::uint64_t max_size = config.max_size_bytes;
  GrowFn grow = [&](std::uint64_t size) -> Result<std::span<std::uint8_t>> {
    return std::span(memory.data(), size);
  };
  auto created = Engine::create(config, std::span(memory.data(), 8192), state, grow);
  if (!created) _exit(2);
  Engine& engine = **created;
  for (std::uint64_t step = 0;; ++step) {
    switch (rng() % 4) {
      case 0: {
        const std::uint64_t size = engine.size_bytes();
        const std::uint64_t at = rng() % size;
        const std::uint64_t n = std::min<std::uint64_t>(1 + rng() % 3000, size - at);
        for (std::uint64_t k = 0; k < n; ++k)
          memory.data()[at + k] = static_cast<std::uint8_t>(rng());
        break;
      }
      case 1:
        engine.scan();
        break;
      case 2:
        if (!engine.apply(patches[step % patches.size()])) _exit(3);
        break;
      default:
        if (!engine.resize(std::min(max_size, engine.size_bytes() + 4096))) _exit(4);
    }
    progress->store(step + 1, std::memory_order_release);
  }
}

TEST_CASE("an engine killed with SIGKILL at random points resumes, repairs and converges") {
  const int trials = 60;
  std::uint64_t torn_total = 0;
  for (int trial = 0; trial < trials; ++trial) {
    const std::uint64_t seed = 777 + static_cast<std::uint64_t>(trial);
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    auto config = small_config("a", 16 * 4096);
    config.version_pool_blocks = 4096;
    const auto state_bytes = Engine::state_bytes_required(config);
    REQUIRE(state_bytes.ok());
    SharedMapping memory(config.max_size_bytes), state(*state_bytes), shared_progress(4096);
    auto* progress = new (shared_progress.data()) std::atomic<std::uint64_t>(0);
    const auto patches = remote_patches(rng, config.max_size_bytes);
    const std::uint64_t kill_after = 1 + rng() % 300;

    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) child_main(config, memory, state.span(), patches, progress, seed);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (progress->load(std::memory_order_acquire) < kill_after &&
           std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) FAIL("child exited early, status " << status);
    }
    kill(pid, SIGKILL);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(progress->load() >= kill_after);

    GrowFn grow = [&](std::uint64_t size) -> Result<std::span<std::uint8_t>> {
      return std::span(memory.data(), size);
    };
    auto resumed = Engine::create(config, std::span(memory.data(), 4096), state.span(), grow);
    REQUIRE_MESSAGE(resumed.ok(), resumed.error().message());
    Engine& a = **resumed;
    CHECK(a.recovery_stats().resumed);
    CHECK_FALSE(a.recovery_stats().clean_shutdown);
    CHECK(a.recovery_stats().corrupt_pages == 0);
    torn_total += a.recovery_stats().torn_pages;

    // Bring it and a reference replica to the same knowledge: every remote patch, its own
    // pending writes, then catch-up both ways.
    Replica ref(small_config("ref", config.max_size_bytes), 4096);
    a.scan();
    for (const Patch& p : patches) {
      REQUIRE(a.apply(p).ok());
      REQUIRE(ref.engine->apply(p).ok());
    }
    REQUIRE(ref.engine->resize(a.size_bytes()).ok());
    REQUIRE(a.resize(ref.engine->size_bytes()).ok());
    for (int pass = 0; pass < 2; ++pass) {
      for (std::uint64_t page = 0; page < a.page_count(); ++page) {
        if (a.page_digest(page) == ref.engine->page_digest(page)) continue;
        auto mine = a.export_page(page);
        auto theirs = ref.engine->export_page(page);
        REQUIRE(ref.engine->merge_page(*mine).ok());
        REQUIRE(a.merge_page(*theirs).ok());
      }
    }
    CHECK(a.scan().empty());
    CHECK(ref.engine->scan().empty());
    CHECK(a.nonzero_digests() == ref.engine->nonzero_digests());
    CHECK(std::equal(memory.data(), memory.data() + a.size_bytes(), ref.memory.data()));
    for (std::uint64_t page = 0; page < a.page_count(); ++page) {
      CHECK(a.page_versions(page) == ref.engine->page_versions(page));
    }
  }
  MESSAGE("torn pages repaired over all trials: " << torn_total);
}

}  // namespace
}  // namespace wmd::test
